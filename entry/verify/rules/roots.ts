// Rule: checkpoints against the rebuilt tree. A validated checkpoint whose root differs from
// the tree rebuilt from the records is a ROOT_MISMATCH (all of them one finding: every
// checkpoint after one damaged record fails), or INCONSISTENT_CHECKPOINT when another signed
// root exists at its size (a split view) or it seals past where the next epoch continued the
// tree (a fork). Matching checkpoints of an epoch going back in time are a CLOCK_ANOMALY. Each
// matching checkpoint that extends what is covered must be signed by the key that owns the
// records it newly covers (owners.ts), and none counts past the first record naming another
// pod than its key's certificate (identity.ts).
import type { Digest } from "../../merkle.ts";
import type { Report } from "../findings.ts";
import type { ValidCheckpoint } from "./checkpoints.ts";
import { checkOwners } from "./owners.ts";

/** What the tree walk rebuilt, as this rule reads it. */
export interface RebuiltTree {
  /** The anchor's size and root. */
  base: number;
  baseRoot: Digest;
  /** The rebuilt root at each size a checkpoint (or the state) names, where it could be built. */
  roots: ReadonlyMap<number, Digest>;
  /** The roots the checkpoints sign, by size. */
  signedRoots: ReadonlyMap<number, ReadonlySet<Digest>>;
  /** Where the epoch after each began (a checkpoint past it forks from the tree). */
  nextStart: ReadonlyMap<number, number>;
  /** The first seq whose record names another pod than its key's certificate. */
  firstStranger: number;
}

/** Who owns each seq from the anchor on (owners.ts). */
export interface Ownership {
  owner: Int32Array;
  keyIds: readonly string[];
  orderOf: (keyId: string) => number;
}

/** The checkpoints that match the records, and how far they (or the anchor) cover. */
export function matchRoots(
  checkpoints: readonly ValidCheckpoint[],
  tree: RebuiltTree,
  ownership: Ownership,
  report: Report,
): { matched: ValidCheckpoint[]; covered: number; coveredRoot: Digest } {
  const { base, roots, signedRoots, nextStart, firstStranger } = tree;
  const mismatched: ValidCheckpoint[] = [];
  let covered = base;
  let coveredRoot = tree.baseRoot;
  const matched: ValidCheckpoint[] = [];
  const lastTimeByEpoch = new Map<number, string>();
  for (const c of checkpoints) {
    if (c.size < base) continue;
    const where = { epoch: c.epoch, position: c.fact.position };
    if (roots.get(c.size) !== c.root) {
      // Another signed root at this size (a lookup, not a search of every checkpoint: after
      // one damaged record in per-entry mode every later checkpoint gets here).
      const split = (signedRoots.get(c.size)?.size ?? 0) > 1;
      const beyondEpoch = c.size > (nextStart.get(c.epoch) ?? Number.POSITIVE_INFINITY);
      if (split || beyondEpoch) {
        report(
          "INCONSISTENT_CHECKPOINT",
          split
            ? `two signed checkpoints at size ${c.size} with different roots`
            : `checkpoint of epoch ${c.epoch} at size ${c.size} forks from the tree the next epoch continued`,
          where,
        );
      } else mismatched.push(c);
      continue;
    }
    const last = lastTimeByEpoch.get(c.epoch);
    if (last && c.time < last)
      report("CLOCK_ANOMALY", `checkpoint time ${c.time} is before ${last}`, where);
    lastTimeByEpoch.set(c.epoch, c.time);
    if (c.size > covered && c.size <= firstStranger) {
      checkOwners(c, ownership.owner, ownership.keyIds, base, covered, ownership.orderOf, report);
      covered = c.size;
      coveredRoot = c.root;
    }
    matched.push(c);
  }
  const firstBad = mismatched[0];
  const lastBad = mismatched[mismatched.length - 1];
  if (firstBad && lastBad) {
    report(
      "ROOT_MISMATCH",
      mismatched.length === 1
        ? `checkpoint at size ${firstBad.size} does not match the records`
        : `${mismatched.length} checkpoints at sizes ${firstBad.size}..${lastBad.size} do not match the records`,
      { epoch: firstBad.epoch, position: firstBad.fact.position, count: mismatched.length },
    );
  }
  return { matched, covered, coveredRoot };
}
