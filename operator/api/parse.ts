// Turns an AuditPolicy object read from the API server into a Policy, or an InvalidSpec error
// naming each bad field. The API server already enforces the CRD schema; this catches what only
// code can check (regex validity) and fills in defaults, so everything downstream gets a
// complete, typed spec.
import { AuditPolicyObject, AuditPolicySpec, type Policy } from "./policy.ts";

export interface InvalidSpec {
  kind: "InvalidSpec";
  message: string;
}

export type ParsedPolicy = { ok: true; policy: Policy } | { ok: false; error: InvalidSpec };

export function parsePolicy(raw: unknown): ParsedPolicy {
  const obj = AuditPolicyObject.safeParse(raw);
  if (!obj.success) return invalid(obj.error.issues, "");
  const spec = AuditPolicySpec.safeParse(obj.data.spec);
  if (!spec.success) return invalid(spec.error.issues, "spec.");
  const m = obj.data.metadata;
  const created = m.creationTimestamp;
  return {
    ok: true,
    policy: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      generation: m.generation,
      creationTimestamp:
        created instanceof Date ? created.toISOString() : (created ?? new Date(0).toISOString()),
      spec: spec.data,
    },
  };
}

function invalid(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  prefix: string,
): ParsedPolicy {
  const message = issues
    .map((i) => `${prefix}${i.path.map(String).join(".")}: ${i.message}`)
    .join("; ");
  return { ok: false, error: { kind: "InvalidSpec", message } };
}
