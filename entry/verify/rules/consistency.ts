// Rule: consistency with the trusted state. What this verifier verified before must still be
// there: the tree rebuilt now must have the state's root at the state's size, or it is an
// INCONSISTENT_CHECKPOINT (the store was cut short, or rewritten). Only a tree that extends the
// state's may replace it, and the state only grows: it never trusts less than before.
import { type Digest, toDigest } from "../../merkle.ts";
import type { Report } from "../findings.ts";
import type { TrustedTree } from "../trust.ts";

/**
 * Whether what is verified now extends what the state verified before. Past an anchor beyond
 * the state's size nothing links the two, and only retention (`headExcused`) lets the state
 * move on.
 */
export function extendsTrusted(
  trusted: TrustedTree | undefined,
  anchorSize: number,
  headExcused: boolean,
  roots: ReadonlyMap<number, Digest>,
  maxSeq: number,
  report: Report,
): boolean {
  if (trusted === undefined) return true;
  if (trusted.size < anchorSize) return headExcused;
  const linked = roots.get(trusted.size) === toDigest(Buffer.from(trusted.root, "base64"));
  if (!linked) {
    report(
      "INCONSISTENT_CHECKPOINT",
      trusted.size > maxSeq + 1
        ? `the store ends at size ${maxSeq + 1}, but this verifier verified size ${trusted.size} before`
        : `the tree at size ${trusted.size} differs from what this verifier verified before`,
      { epoch: trusted.epoch },
    );
  }
  return linked;
}

/** The tree the state keeps: the new one only when it extends the old and verifies as much. */
export function nextTrusted(
  trusted: TrustedTree | undefined,
  linked: boolean,
  candidate: TrustedTree | undefined,
): TrustedTree | undefined {
  const keep = trusted && !(linked && candidate && candidate.size >= trusted.size);
  return keep ? trusted : (candidate ?? trusted);
}
