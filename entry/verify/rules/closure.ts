// Rule: epoch closure. An `epoch-end` closes its epoch: a record of the epoch at a later seq, or
// a checkpoint sealing past it, was added after the end (AFTER_END, an error, counted per
// kind). An epoch followed by another without an `epoch-end` (placed or superseded) ended
// unclean: the sidecar was killed (UNCLEAN_END, a warning).
import type { Report } from "../findings.ts";
import { EPOCH_END, type LeafTable } from "../leaves.ts";
import type { EpochInfo } from "./epochs.ts";
import { Tally } from "./tally.ts";

export class EpochClosure {
  private readonly records = new Tally();
  private readonly checkpoints = new Tally();

  /** Whether leaf i, at seq, lies past its epoch's end (counted when it does). */
  recordAfterEnd(leaves: LeafTable, i: number, seq: number, endSeq: number): boolean {
    if (seq <= endSeq) return false;
    this.records.add({ epoch: leaves.epochAt(i), position: leaves.positionAt(i) }, seq);
    return true;
  }

  /** Whether a checkpoint of `size` seals past the end at `endSeq` (counted when it does). */
  checkpointAfterEnd(
    size: number,
    endSeq: number,
    where: { epoch: number; position: string },
  ): boolean {
    // The epoch-end itself is sealed by a checkpoint of size endSeq + 1.
    if (size <= endSeq + 1) return false;
    this.checkpoints.add(where, size);
    return true;
  }

  reportRecords(report: Report): void {
    const records = this.records;
    records.report((n, where) =>
      report("AFTER_END", `${n} record(s) of an epoch after its epoch-end`, {
        ...where,
        seq: records.span,
        count: n,
      }),
    );
  }

  reportCheckpoints(report: Report): void {
    this.checkpoints.report((n, where, sizes) =>
      report(
        "AFTER_END",
        `${n} checkpoint(s) at sizes ${sizes} seal past their epoch's epoch-end`,
        {
          ...where,
          count: n,
        },
      ),
    );
  }
}

/**
 * UNCLEAN_END for each epoch of a tree (sorted) but the last that has no epoch-end, neither
 * placed (`ended`) nor among the superseded leaves.
 */
export function reportUncleanEnds(
  epochs: readonly EpochInfo[],
  leaves: LeafTable,
  orphaned: readonly number[],
  report: Report,
): void {
  for (let i = 0; i + 1 < epochs.length; i++) {
    const e = epochs[i] as EpochInfo;
    if (
      !e.ended &&
      !orphaned.some((o) => leaves.epochAt(o) === e.epoch && leaves.typeCodeAt(o) === EPOCH_END)
    ) {
      report("UNCLEAN_END", `epoch ${e.epoch} ended without epoch-end (the sidecar was killed)`, {
        epoch: e.epoch,
      });
    }
  }
}
