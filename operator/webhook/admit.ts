// The admission decision for one pod, pure: which policy applies, whether the pod may be
// admitted, and the JSON patch. Enforce refuses a selected pod that cannot be injected (with
// the reason); Audit admits it with a warning and the controller lists it on the status. The
// operator's own namespace and kube-system are never touched, whatever a policy selects.
// A pod that arrives already claiming injection (the annotation, or a container named like the
// sidecar) is admitted only if it carries exactly what this policy injects (sidecar-match.ts):
// reinvocation and a re-created copy of an injected pod pass, a forged or edited one does not.
//
// CREATE only (configuration.ts registers no other operation). A pod's spec cannot change after
// creation but for container images, tolerations and a few durations, so injection cannot be
// added nor removed later; a webhook on UPDATE would put every label, annotation and finalizer
// change of a selected pod behind a fail-closed call (an operator outage would then block pod
// deletion). A sidecar image changed afterwards, or an ephemeral container added later that
// mounts an injected volume or targets the sidecar, is caught by the controller instead:
// sidecarMatches() makes the pod uncovered (SidecarMismatch); certification is to refuse it too.
import type { V1Pod } from "@kubernetes/client-node";
import type { Policy } from "../api/policy.ts";
import { injectionPatch, type JsonPatch } from "../inject.ts";
import { INJECT_ANNOTATION } from "../names.ts";
import { selectingPolicies } from "../select.ts";
import type { InjectionContext } from "../sidecar-spec.ts";

export interface AdmitContext extends InjectionContext {
  /** Namespaces never injected nor refused: kube-system and the operator's own. */
  excludedNamespaces: ReadonlySet<string>;
}

export interface Decision {
  allowed: boolean;
  patch: JsonPatch[];
  /** Shown to the user on denial (kubectl prints it). */
  message?: string;
  warnings: string[];
  /** The policy that decided, for metrics and logs. */
  policy?: string;
}

export function admit(
  namespace: string,
  pod: V1Pod,
  policies: readonly Policy[],
  ctx: AdmitContext,
): Decision {
  const pass: Decision = { allowed: true, patch: [], warnings: [] };
  if (ctx.excludedNamespaces.has(namespace)) return pass;
  const [policy] = selectingPolicies(namespace, pod.metadata?.labels, policies);
  if (!policy) return pass;
  const who = `AuditPolicy ${namespace}/${policy.name}`;
  const enforce = policy.spec.enforcement === "Enforce";

  if (pod.metadata?.annotations?.[INJECT_ANNOTATION] === "false") {
    const why = `the pod opts out of injection (${INJECT_ANNOTATION}: "false")`;
    return enforce
      ? refuse(policy.name, `${who} enforces audit logging for this pod, but ${why}`)
      : {
          ...pass,
          policy: policy.name,
          warnings: [`${who}: ${why}; it will be reported as uncovered`],
        };
  }
  const result = injectionPatch(pod, policy, ctx);
  if (result.ok) return { ...pass, patch: result.patch, policy: policy.name };
  if (result.error.kind === "SidecarMismatch") {
    return enforce
      ? refuse(policy.name, `${who} (Enforce) refuses the pod: its ${result.error.message}`)
      : {
          ...pass,
          policy: policy.name,
          warnings: [`${who}: the pod's ${result.error.message}; it will be reported as uncovered`],
        };
  }
  const why = `cannot inject the audit sidecar: ${result.error.message} (${result.error.kind})`;
  return enforce
    ? refuse(policy.name, `${who} (Enforce) ${why}`)
    : {
        ...pass,
        policy: policy.name,
        warnings: [`${who} ${why}; it will be reported as uncovered`],
      };
}

function refuse(policy: string, message: string): Decision {
  return { allowed: false, patch: [], message, warnings: [], policy };
}
