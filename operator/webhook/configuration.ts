// The MutatingWebhookConfiguration the operator keeps current, as a pure function of the
// policies. One webhook entry per policy, scoped by namespace name and the policy's own pod
// selector: an outage of the operator blocks only pods an Enforce policy selects
// (failurePolicy Fail) and lets every other pod through (Audit entries use Ignore and are then
// reported as NotInjected). kube-system and the operator's namespace are always excluded.
import { createHash } from "node:crypto";
import type { V1MutatingWebhook } from "@kubernetes/client-node";
import type { Policy } from "../api/policy.ts";

export interface WebhookEndpoint {
  /** https://host:port/mutate, for servers outside the cluster (tests, local runs). */
  url?: string;
  /** The operator's Service, in a cluster. */
  service?: { namespace: string; name: string; port: number };
}

export interface WebhookSettings {
  endpoint: WebhookEndpoint;
  caBundlePem: string;
  excludedNamespaces: readonly string[];
}

export const POLICY_WEBHOOK_SUFFIX = "policies.auditready.dev";

export function webhookName(policy: Pick<Policy, "namespace" | "name">): string {
  const h = createHash("sha256").update(`${policy.namespace}/${policy.name}`).digest("hex");
  return `p${h.slice(0, 16)}.${POLICY_WEBHOOK_SUFFIX}`;
}

export function desiredWebhooks(
  policies: readonly Policy[],
  s: WebhookSettings,
): V1MutatingWebhook[] {
  const caBundle = Buffer.from(s.caBundlePem).toString("base64");
  const clientConfig = s.endpoint.service
    ? { service: { ...s.endpoint.service, path: "/mutate" }, caBundle }
    : { url: s.endpoint.url ?? "", caBundle };
  return [...policies]
    .filter((p) => !s.excludedNamespaces.includes(p.namespace))
    .sort((a, b) => webhookName(a).localeCompare(webhookName(b)))
    .map((p) => {
      const enforce = p.spec.enforcement === "Enforce";
      return {
        name: webhookName(p),
        admissionReviewVersions: ["v1"],
        sideEffects: "None",
        failurePolicy: enforce ? "Fail" : "Ignore",
        // Re-run when a later webhook changed the pod: the patch is then empty, if the pod still
        // carries exactly what was injected (else refused under Enforce).
        reinvocationPolicy: "IfNeeded",
        timeoutSeconds: enforce ? 10 : 3,
        matchPolicy: "Equivalent",
        namespaceSelector: {
          matchExpressions: [
            { key: "kubernetes.io/metadata.name", operator: "In", values: [p.namespace] },
            {
              key: "kubernetes.io/metadata.name",
              operator: "NotIn",
              values: [...s.excludedNamespaces],
            },
          ],
        },
        objectSelector: {
          ...(p.spec.selector.matchLabels && { matchLabels: p.spec.selector.matchLabels }),
          ...(p.spec.selector.matchExpressions && {
            matchExpressions: p.spec.selector.matchExpressions.map((e) => ({
              key: e.key,
              operator: e.operator,
              ...(e.values && { values: e.values }),
            })),
          }),
        },
        rules: [
          {
            apiGroups: [""],
            apiVersions: ["v1"],
            // CREATE only: why not UPDATE is in admit.ts.
            operations: ["CREATE"],
            resources: ["pods"],
            scope: "Namespaced",
          },
        ],
        clientConfig,
      };
    });
}
