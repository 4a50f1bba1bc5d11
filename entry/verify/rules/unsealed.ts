// Rule: the unsealed tail. Records past what any checkpoint seals (leaves under a checkpoint
// that failed are that failure's, not unsealed) are never counted as verified: UNSEALED_TAIL,
// a warning, or an error when no record of the stream is sealed at all.
import { type Finding, finding } from "../findings.ts";
import type { SeqSlots } from "../leaves.ts";

/** How many placed records lie at or past `signedTo`, and the finding that says so. */
export function unsealedTail(
  slots: SeqSlots,
  signedTo: number,
  end: number,
  /** Whether nothing is sealed: no checkpoint matched, or none covers past an empty anchor. */
  nothingSealed: boolean,
  where: { origin: string; epoch: number },
): { unsealed: number; finding: Finding | null } {
  let unsealed = 0;
  for (const _ of slots.seqsFrom(signedTo)) unsealed++;
  if (unsealed === 0) return { unsealed, finding: null };
  return {
    unsealed,
    finding: {
      ...finding("UNSEALED_TAIL", `final ${unsealed} record(s) not sealed by any checkpoint`, {
        origin: where.origin,
        epoch: where.epoch,
        seq: [signedTo, end - 1],
        count: unsealed,
      }),
      ...(nothingSealed
        ? {
            level: "error" as const,
            message: `no record of this stream is sealed (${unsealed} unsealed)`,
          }
        : {}),
    },
  };
}
