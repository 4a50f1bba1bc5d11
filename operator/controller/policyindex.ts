// The parsed, valid AuditPolicies by namespace: what the webhook reads on every admission and
// what the controller uses to find the policies a pod concerns. Updated from the policy
// informer; a status-only update (the operator's own writes) changes nothing here. `version`
// moves on every real change, so derived data (the webhook entries) is recomputed only then.
import { parsePolicy } from "../api/parse.ts";
import type { Policy } from "../api/policy.ts";
import type { RawPolicy } from "./reconciler.ts";

export class PolicyIndex {
  private readonly valid = new Map<string, Policy>();
  private readonly byNamespace = new Map<string, Policy[]>();
  version = 0;

  /** Applies an informer change; false when only the status changed. */
  apply(key: string, obj: RawPolicy | undefined, old: RawPolicy | undefined): boolean {
    if (
      obj &&
      old &&
      obj.metadata.generation === old.metadata.generation &&
      JSON.stringify(obj.spec) === JSON.stringify(old.spec)
    ) {
      return false;
    }
    const ns = (obj ?? old)?.metadata.namespace ?? "";
    const parsed = obj ? parsePolicy(obj) : undefined;
    if (parsed?.ok) this.valid.set(key, parsed.policy);
    else this.valid.delete(key);
    this.byNamespace.set(
      ns,
      [...this.valid.values()].filter((p) => p.namespace === ns),
    );
    this.version++;
    return true;
  }

  /** Whether any valid policy lives in the namespace: only such namespaces' pods are cached. */
  hasNamespace(namespace: string): boolean {
    return (this.byNamespace.get(namespace)?.length ?? 0) > 0;
  }

  /** The namespaces with policies, as a comparable key. */
  namespacesKey(): string {
    return [...this.byNamespace.entries()]
      .filter(([, ps]) => ps.length > 0)
      .map(([ns]) => ns)
      .sort()
      .join(",");
  }

  inNamespace(namespace: string): readonly Policy[] {
    return this.byNamespace.get(namespace) ?? [];
  }

  all(): Policy[] {
    return [...this.valid.values()];
  }
}
