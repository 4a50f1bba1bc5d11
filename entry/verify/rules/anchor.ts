// Rule: anchoring. The tree is rebuilt from a point whose compact range is trusted: the empty
// tree when seq 0 is here (the epoch-start), else this verifier's own state when it reaches the
// first record left, else the first signed checkpoint (already validated) whose compact range
// covers a size the records present reach. Without one nothing of the tree can be verified.
import { CompactRange } from "../../merkle.ts";
import type { SeqSlots } from "../leaves.ts";
import type { TrustedTree } from "../trust.ts";
import { rangeOf, type ValidCheckpoint } from "./checkpoints.ts";

export interface Anchor {
  size: number;
  range: CompactRange;
  /** How verification continues from it, for findings. */
  why: string;
  /** The epoch key current at the anchor, when known. */
  keyId?: string;
}

export function findAnchor(
  placed: { slots: SeqSlots; minSeq: number; maxSeq: number },
  trusted: TrustedTree | undefined,
  checkpoints: readonly ValidCheckpoint[],
): Anchor | null {
  const { slots, minSeq, maxSeq } = placed;
  if (minSeq === 0 && slots.get(0) >= 0) return { size: 0, range: new CompactRange(), why: "" };
  if (trusted && trusted.size >= minSeq) {
    return {
      size: trusted.size,
      range: new CompactRange(
        trusted.size,
        trusted.range.map((h) => Buffer.from(h, "base64")),
      ),
      why: `from this verifier's trusted state at size ${trusted.size}`,
      keyId: trusted.keyId,
    };
  }
  // Only a size the records present reach: a range claiming more would vouch for nothing.
  const c = checkpoints.find(
    (cp) => cp.size >= minSeq && cp.size <= maxSeq + 1 && cp.fact.range !== undefined,
  );
  if (!c?.fact.range) return null;
  return {
    size: c.size,
    range: rangeOf(c.fact.range) as CompactRange,
    why: `from the signed checkpoint at size ${c.size}`,
    keyId: c.keyId,
  };
}
