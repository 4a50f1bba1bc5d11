// The admission decision for one pod, pure: which policy applies, whether the pod may be
// admitted, and the JSON patch. Enforce refuses a selected pod that cannot be injected (with
// the reason); Audit admits it with a warning and the controller lists it on the status. The
// operator's own namespace and kube-system are never touched, whatever a policy selects.
import type { V1Pod } from "@kubernetes/client-node";
import type { Policy } from "../api/policy.ts";
import { type InjectionContext, injectionPatch, type JsonPatch } from "../inject.ts";
import { INJECT_ANNOTATION } from "../names.ts";
import { selectingPolicies } from "../select.ts";

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
