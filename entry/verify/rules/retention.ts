// Rule: consistency with the trusted state. What this verifier verified before stays proven:
// records (or whole trees and streams) the state proves existed may be missing only when the
// topic's retention explains it (sealed before asOf - retention.ms); anything else is a GAP.
import { CLOCK_SKEW_MS } from "../certs.ts";
import type { Report } from "../findings.ts";
import type { TrustedTree } from "../trust.ts";

/** Whether retention explains the loss of records sealed (at the latest) at `sealedAt`. */
export function retentionExplains(
  sealedAt: number,
  asOf: number,
  retentionMs: number | undefined,
): boolean {
  // Kafka deletes whole segments once their newest message is older than the retention: a
  // record sealed just before the horizon may have its checkpoint just after it.
  return retentionMs !== undefined && sealedAt - CLOCK_SKEW_MS <= asOf - retentionMs;
}

/** What to report for a tree the state verified when none of its records is left. */
export function vanishedTree(
  t: TrustedTree,
  asOf: number,
  retentionMs: number | undefined,
): { code: "GAP" | "HEAD_TRUNCATED"; message: string } {
  const what = `this verifier verified epoch ${t.epoch} to size ${t.size} (checkpoint of ${t.checkpointTime || "unknown time"}) before`;
  return retentionExplains(Date.parse(t.checkpointTime), asOf, retentionMs)
    ? { code: "HEAD_TRUNCATED", message: `${what}; retention removed it` }
    : { code: "GAP", message: `${what}, and retention does not explain the loss` };
}

/**
 * Records missing before the first one left. Only retention removes a head: with a trusted
 * state proving they existed, or with the topic's retention to judge by, records sealed after
 * the retention horizon are a GAP (an error); otherwise HEAD_TRUNCATED. Returns whether the
 * loss is excused.
 */
export function missingHead(
  treeId: number,
  minSeq: number,
  checkpoints: readonly { size: number; time: string }[],
  trusted: TrustedTree | undefined,
  anchor: { why: string } | null,
  clock: { asOf: number; retentionMs: number | undefined },
  report: Report,
): boolean {
  const { asOf, retentionMs } = clock;
  const judged = trusted !== undefined || retentionMs !== undefined;
  // The first checkpoint at or past minSeq sealed the last missing record: no later than it.
  const cover = checkpoints.find((c) => c.size >= minSeq);
  const excused =
    !judged ||
    (cover !== undefined && retentionExplains(Date.parse(cover.time), asOf, retentionMs));
  const then = anchor
    ? `verification continues ${anchor.why}`
    : "no trusted anchor or checkpoint covers what is left";
  const where = { epoch: treeId, seq: [0, minSeq - 1] as [number, number] };
  if (excused) {
    report("HEAD_TRUNCATED", `records before seq ${minSeq} are gone; ${then}`, where);
    return true;
  }
  const proof = trusted
    ? `this verifier verified this tree to size ${trusted.size} before`
    : `they existed (seqs start at 0)`;
  const why =
    retentionMs === undefined
      ? "no retention is known to explain it"
      : `retention (${retentionMs} ms) does not explain it: they were sealed by ${cover ? cover.time : "no checkpoint left"}`;
  report("GAP", `records 0..${minSeq - 1} are gone though ${proof}; ${why}; ${then}`, where);
  return false;
}
