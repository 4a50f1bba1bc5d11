// Rule: placement. Which leaf holds each seq of a tree: the first to arrive for a seq holds it;
// the same bytes again are a DUPLICATE, other bytes a CONFLICT, and a seq arriving after a
// later one a REORDER (both information). A leaf at or past the seq where the next epoch began
// was superseded (the sidecar was killed before sealing it): it is set aside as orphaned. A
// leaf before its epoch's start is a CONFLICT; one past its epoch's end is AFTER_END.
import type { Report } from "../findings.ts";
import { type LeafTable, LOG, SeqSlots } from "../leaves.ts";
import type { EpochClosure } from "./closure.ts";
import type { EpochInfo } from "./epochs.ts";

export interface Placement {
  /** The leaf placed at each seq. */
  slots: SeqSlots;
  /** Leaves superseded by the next epoch, in arrival order. */
  orphaned: number[];
  /** Placed leaves that introduce an epoch key (epoch-start, key-rotate), in arrival order. */
  withKey: number[];
  placed: number;
  /** The lowest seq placed (0 when none is). */
  minSeq: number;
  /** The highest seq placed (-1 when none is). */
  maxSeq: number;
}

/**
 * Places the leaves of one tree. `inTree` holds the tree's epochs, `nextStart` the seq at which
 * the epoch after each began.
 */
export function placeLeaves(
  leaves: LeafTable,
  inTree: ReadonlyMap<number, EpochInfo>,
  nextStart: ReadonlyMap<number, number>,
  closure: EpochClosure,
  report: Report,
): Placement {
  let lowest = Number.POSITIVE_INFINITY;
  let highest = -1;
  let inTreeCount = 0;
  for (let i = 0; i < leaves.length; i++) {
    if (!inTree.has(leaves.epochAt(i))) continue;
    const seq = leaves.seqAt(i);
    inTreeCount++;
    if (seq < lowest) lowest = seq;
    if (seq > highest) highest = seq;
  }
  const slots = new SeqSlots(lowest, highest, inTreeCount);
  const orphaned: number[] = [];
  const withKey: number[] = [];
  let duplicates = 0;
  let reordered = 0;
  let placed = 0;
  let minSeq = Number.POSITIVE_INFINITY;
  let maxSeq = -1;
  // The epoch's facts, looked up again only when the epoch changes from one leaf to the next.
  let epoch = Number.NaN;
  let info: EpochInfo | undefined;
  let next = Number.POSITIVE_INFINITY;
  let endSeq = Number.POSITIVE_INFINITY;
  for (let i = 0; i < leaves.length; i++) {
    const e = leaves.epochAt(i);
    if (e !== epoch) {
      epoch = e;
      info = inTree.get(e);
      next = nextStart.get(e) ?? Number.POSITIVE_INFINITY;
      endSeq = info?.endSeq ?? Number.POSITIVE_INFINITY;
    }
    if (info === undefined) continue;
    const seq = leaves.seqAt(i);
    // An ended epoch is closed: whatever claims a later place in it was added after the end.
    if (closure.recordAfterEnd(leaves, i, seq, endSeq)) continue;
    if (seq >= next) {
      orphaned.push(i);
      continue;
    }
    if (info.start && seq < info.startSeq) {
      report(
        "CONFLICT",
        `seq ${seq} of epoch ${epoch} lies before that epoch began (${info.startSeq})`,
        {
          epoch,
          seq: [seq, seq],
          position: leaves.positionAt(i),
        },
      );
      continue;
    }
    const have = slots.get(seq);
    if (have < 0) {
      slots.set(seq, i);
      placed++;
      if (seq < maxSeq) reordered++;
      if (seq > maxSeq) maxSeq = seq;
      if (seq < minSeq) minSeq = seq;
      if (leaves.typeCodeAt(i) !== LOG && leaves.extrasAt(i)?.key) withKey.push(i);
    } else if (leaves.sameHash(have, i)) duplicates++;
    else {
      report(
        "CONFLICT",
        `two different records claim seq ${seq} of epoch ${epoch} (${leaves.positionAt(have)}, ${leaves.positionAt(i)})`,
        { epoch, seq: [seq, seq], position: leaves.positionAt(i) },
      );
    }
  }
  if (placed === 0) minSeq = 0;
  closure.reportRecords(report);
  if (duplicates > 0)
    report("DUPLICATE", `${duplicates} record(s) delivered more than once`, { count: duplicates });
  if (reordered > 0)
    report("REORDER", `${reordered} record(s) arrived after a later seq`, { count: reordered });
  return { slots, orphaned, withKey, placed, minSeq, maxSeq };
}
