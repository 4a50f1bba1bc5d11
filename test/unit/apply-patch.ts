// For tests of the pod mutation: applies the "add" operations injection emits (RFC 6902
// subset: objects, arrays, "-"), so a test can look at the pod the API server would store.
import type { V1Pod } from "@kubernetes/client-node";
import type { JsonPatch } from "../../operator/inject.ts";

export function applyPatch(doc: unknown, patch: JsonPatch[]): V1Pod {
  const out = structuredClone(doc) as Record<string, unknown>;
  for (const op of patch) {
    const tokens = op.path
      .slice(1)
      .split("/")
      .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
    const last = tokens.pop() as string;
    let node: unknown = out;
    for (const t of tokens) node = (node as Record<string, unknown>)[t];
    if (Array.isArray(node)) {
      if (last === "-") node.push(op.value);
      else node.splice(Number(last), 0, op.value);
    } else (node as Record<string, unknown>)[last] = op.value;
  }
  return out as V1Pod;
}
