// Rule: key ownership. Each leaf belongs to the key current when it was appended (the last
// epoch-start or key-rotate before it); the first checkpoint that covers it must be signed by
// that key, so a key stolen later cannot re-seal a truncated history (journald's lesson).
import type { Report } from "../findings.ts";

/** What the rule needs of a checkpoint whose signature and root checked out. */
export interface SignedCheckpoint {
  size: number;
  keyId: string;
  epoch: number;
  fact: { position: string };
}

/** The journald lesson: the first checkpoint covering a record must be signed by its key. */
export function checkOwners(
  c: SignedCheckpoint,
  owner: Int32Array,
  keyIds: readonly string[],
  base: number,
  from: number,
  orderOf: (keyId: string) => number,
  report: Report,
): void {
  let bad = 0;
  let later = false;
  let first = -1;
  const signer = orderOf(c.keyId);
  for (let seq = from; seq < c.size; seq++) {
    const own = keyIds[owner[seq - base] as number] ?? "";
    if (own === c.keyId) continue;
    if (first < 0) first = seq;
    bad++;
    const ownOrder = orderOf(own);
    if (signer > ownOrder) later = true;
  }
  if (bad === 0) return;
  report(
    later ? "SEALED_BY_LATER_KEY" : "KEY_NOT_VALID",
    later
      ? `${bad} record(s) first sealed by ${c.keyId}, a key introduced after theirs`
      : `${bad} record(s) first sealed by ${c.keyId}, which was not their key`,
    { epoch: c.epoch, seq: [first, c.size - 1], position: c.fact.position, count: bad },
  );
}
