// Rule: the witness. What a trusted witness cosigned (it verified those checkpoints when they
// were in the topic) must still be there and the same, so a dropped tail, a deleted stream or a
// split view is caught even on this verifier's first run, without any state of its own:
// - cosigned size N, the topic's tree gives another root at N: INCONSISTENT_CHECKPOINT;
// - cosigned size N, the topic's records stop before N: GAP;
// - cosigned an epoch (or a stream) of which the topic holds nothing: GAP, unless retention
//   explains it (HEAD_TRUNCATED, as for the verifier's own state).
import { type Digest, toDigest } from "../../merkle.ts";
import type { Witnessed } from "../../witness.ts";
import { type Finding, finding, type Report } from "../findings.ts";
import { retentionExplains } from "./retention.ts";

function said(w: Witnessed): string {
  return `the witness ${w.witness} cosigned size ${w.size} of epoch ${w.epoch} (checkpoint of ${w.checkpointTime}) at ${w.cosignedAt}`;
}

/** One stream's cosigned checkpoints, checked tree by tree as the stream check rebuilds them. */
export class WitnessCheck {
  private readonly witnessed: readonly Witnessed[];
  private readonly seen = new Set<Witnessed>();

  constructor(witnessed: readonly Witnessed[]) {
    this.witnessed = witnessed;
  }

  /** Sizes up to `upTo` whose root the tree of these epochs must be rebuilt at. */
  sizes(epochs: ReadonlySet<number>, upTo: number): number[] {
    return this.witnessed.filter((w) => epochs.has(w.epoch) && w.size <= upTo).map((w) => w.size);
  }

  /**
   * Holds one tree to what was cosigned of its epochs: `roots` are the tree's rebuilt roots by
   * size (none past a missing record), `proven` the size its checkpoints prove.
   */
  checkTree(
    epochs: ReadonlySet<number>,
    roots: ReadonlyMap<number, Digest>,
    proven: number,
    report: Report,
  ): void {
    for (const w of this.witnessed) {
      if (!epochs.has(w.epoch)) continue;
      this.seen.add(w);
      const root = roots.get(w.size);
      if (root === undefined) {
        // Below where the topic's tree is anchored (its head expired) there is nothing to compare.
        if (w.size > proven)
          report("GAP", `${said(w)}; the topic holds only up to size ${proven}`, {
            epoch: w.epoch,
            seq: [proven, w.size - 1],
          });
      } else if (root !== toDigest(Buffer.from(w.root, "base64"))) {
        report(
          "INCONSISTENT_CHECKPOINT",
          `${said(w)} with root ${w.root}; the topic's records give another root at that size (a split view)`,
          { epoch: w.epoch },
        );
      }
    }
  }

  /** Cosigned epochs of which the topic holds no tree at all. */
  vanished(origin: string, asOf: number, retentionMs: number | undefined): Finding[] {
    return this.witnessed
      .filter((w) => !this.seen.has(w))
      .map((w) => vanishedFinding(origin, w, asOf, retentionMs, `epoch ${w.epoch}`));
  }
}

/** A stream (or one of its epochs) the witness cosigned and the topic no longer holds. */
export function vanishedFinding(
  origin: string,
  w: Witnessed,
  asOf: number,
  retentionMs: number | undefined,
  what = "stream",
): Finding {
  const excused = retentionExplains(Date.parse(w.checkpointTime), asOf, retentionMs);
  return finding(
    excused ? "HEAD_TRUNCATED" : "GAP",
    `${what === "stream" ? `stream ${origin}` : `${what} of stream ${origin}`} has no records in the topic, but ${said(w)}; ${excused ? "retention removed it" : "retention does not explain the loss"}`,
    { origin, epoch: w.epoch },
  );
}
