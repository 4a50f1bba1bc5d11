// Rule: epochs and trees. A stream's epochs come from its epoch-start records and from whatever
// epochs its leaves and checkpoints name; an epoch-start linked to an earlier epoch continues
// that epoch's tree. An epoch that starts a new tree when there was one before (and the trusted
// state does not know it) means the sidecar lost its saved state: EPOCH_UNLINKED.
import type { Report } from "../findings.ts";
import type { CheckpointFact } from "../ingest.ts";
import { EPOCH_END, EPOCH_START, type LeafFact, type LeafTable } from "../leaves.ts";
import type { TrustedTree } from "../trust.ts";

export interface EpochInfo {
  epoch: number;
  start?: LeafFact;
  startSeq: number;
  tree: number;
  ended: boolean;
  /** The seq of the epoch's first `epoch-end`: nothing of the epoch may come after it. */
  endSeq: number;
}

/** Epochs from epoch-start records and whatever epochs leaves and checkpoints name. */
export function readEpochs(
  leaves: LeafTable,
  checkpoints: readonly CheckpointFact[],
  trusted: readonly TrustedTree[],
): Map<number, EpochInfo> {
  const epochs = new Map<number, EpochInfo>();
  const get = (epoch: number): EpochInfo => {
    let e = epochs.get(epoch);
    if (!e) {
      e = {
        epoch,
        startSeq: Number.POSITIVE_INFINITY,
        tree: epoch,
        ended: false,
        endSeq: Number.POSITIVE_INFINITY,
      };
      epochs.set(epoch, e);
    }
    return e;
  };
  let e: EpochInfo | undefined;
  for (let i = 0; i < leaves.length; i++) {
    const epoch = leaves.epochAt(i);
    if (e === undefined || epoch !== e.epoch) e = get(epoch);
    if (leaves.typeCodeAt(i) === EPOCH_END && e.endSeq === Number.POSITIVE_INFINITY)
      e.endSeq = leaves.seqAt(i);
    if (e.start) continue;
    if (leaves.typeCodeAt(i) === EPOCH_START) {
      e.start = leaves.fact(i);
      e.startSeq = e.start.seq;
    } else e.startSeq = Math.min(e.startSeq, leaves.seqAt(i));
  }
  for (const c of checkpoints) get(c.epoch);
  const treeOf = (epoch: number, seen = new Set<number>()): number => {
    const e = epochs.get(epoch);
    const link = e?.start?.link;
    if (!link || seen.has(epoch)) return epoch;
    seen.add(epoch);
    return treeOf(link.epoch, seen);
  };
  for (const e of epochs.values()) {
    e.tree = treeOf(e.epoch);
    const known = trusted.find((t) => t.epoch === e.tree);
    if (known) e.tree = known.genesis;
  }
  return epochs;
}

/** The epochs of each tree, by the tree's first epoch. */
export function treesOf(epochs: ReadonlyMap<number, EpochInfo>): Map<number, EpochInfo[]> {
  const trees = new Map<number, EpochInfo[]>();
  for (const e of epochs.values()) {
    const list = trees.get(e.tree) ?? [];
    list.push(e);
    trees.set(e.tree, list);
  }
  return trees;
}

/** Where each epoch of a tree (sorted by epoch) gave way to the next: the next one's start. */
export function nextStarts(epochs: readonly EpochInfo[]): Map<number, number> {
  const nextStart = new Map<number, number>();
  for (let i = 0; i < epochs.length; i++) {
    const e = epochs[i] as EpochInfo;
    nextStart.set(e.epoch, epochs[i + 1]?.start?.seq ?? Number.POSITIVE_INFINITY);
  }
  return nextStart;
}

/** EPOCH_UNLINKED for each tree after the first that an unlinked epoch-start begins. */
export function reportUnlinked(
  treeIds: readonly number[],
  trees: ReadonlyMap<number, readonly EpochInfo[]>,
  trusted: readonly TrustedTree[],
  report: Report,
): void {
  if (!(treeIds.length > 1 || (trusted.length > 0 && !trusted.some((t) => trees.has(t.genesis)))))
    return;
  for (const id of treeIds.slice(trusted.length > 0 ? 0 : 1)) {
    const first = trees.get(id)?.[0];
    if (first?.start && first.start.link === null && !trusted.some((t) => t.genesis === id)) {
      report(
        "EPOCH_UNLINKED",
        `epoch ${id} starts a new tree: the sidecar's saved state was lost`,
        {
          epoch: id,
        },
      );
    }
  }
}
