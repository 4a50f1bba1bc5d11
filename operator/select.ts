// Label-selector matching and the choice of the one policy that injects a pod. A pod selected by
// several policies is injected by the first by name; the others report it as ConflictingPolicy,
// so the choice is stable and visible rather than depending on webhook call order.
import type { LabelSelector, Policy } from "./api/policy.ts";

export function selectorMatches(
  selector: LabelSelector,
  labels: Readonly<Record<string, string>> = {},
): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const r of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, r.key);
    const value = labels[r.key];
    const inValues = has && value !== undefined && (r.values ?? []).includes(value);
    const ok =
      r.operator === "In"
        ? inValues
        : r.operator === "NotIn"
          ? !inValues
          : r.operator === "Exists"
            ? has
            : !has;
    if (!ok) return false;
  }
  return true;
}

/** Policies of the pod's namespace that select it, the injecting one first. */
export function selectingPolicies(
  podNamespace: string,
  labels: Readonly<Record<string, string>> | undefined,
  policies: readonly Policy[],
): Policy[] {
  return policies
    .filter((p) => p.namespace === podNamespace && selectorMatches(p.spec.selector, labels))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
