// Rule: superseded records. Leaves of an epoch at or past the seq where the next epoch began
// were never sealed (the sidecar was killed) and the next epoch re-covered them: ORPHANED,
// and REPLAYED_SOURCE when their source lines were read and published again.
import type { Report } from "../findings.ts";
import type { LeafTable, SeqSlots } from "../leaves.ts";

export function reportOrphans(
  leaves: LeafTable,
  orphaned: readonly number[],
  slots: SeqSlots,
  report: Report,
): void {
  if (orphaned.length === 0) return;
  const byEpoch = new Map<number, number[]>();
  for (const o of orphaned) {
    const epoch = leaves.epochAt(o);
    const list = byEpoch.get(epoch);
    if (list) list.push(o);
    else byEpoch.set(epoch, [o]);
  }
  for (const [epoch, list] of byEpoch) {
    const seqs = list.map((o) => leaves.seqAt(o));
    report(
      "ORPHANED",
      `${list.length} unsealed record(s) of epoch ${epoch} superseded by the next epoch`,
      {
        epoch,
        seq: [seqs.reduce((a, q) => Math.min(a, q)), seqs.reduce((a, q) => Math.max(a, q))],
        count: list.length,
      },
    );
  }
  // Only orphans can be replays. Their sources are few; a placed leaf's source is spelled out
  // only when its file offset is one an orphan has, not once per record of the stream.
  const orphanSources = new Map<string, number>();
  const orphanOffsets = new Set<number>();
  for (const o of orphaned) {
    const key = leaves.sourceKeyAt(o);
    if (key === undefined) continue;
    orphanSources.set(key, (orphanSources.get(key) ?? 0) + 1);
    orphanOffsets.add(leaves.offsetAt(o));
  }
  let replayed = 0;
  if (orphanSources.size > 0)
    for (const seq of slots.seqsFrom(0)) {
      const i = slots.get(seq);
      if (!orphanOffsets.has(leaves.offsetAt(i))) continue;
      const key = leaves.sourceKeyAt(i);
      const count = key === undefined ? undefined : orphanSources.get(key);
      if (key === undefined || count === undefined) continue;
      replayed += count;
      orphanSources.delete(key);
    }
  if (replayed > 0) {
    report(
      "REPLAYED_SOURCE",
      `${replayed} line(s) were read again after a restart and published once more`,
      {
        count: replayed,
      },
    );
  }
}
