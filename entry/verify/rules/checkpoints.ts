// Rule: checkpoint validation. A checkpoint message of the tree counts when its note parses
// (BAD_FORMAT), names this origin (WRONG_ORIGIN) and its message's epoch (BAD_FORMAT), carries
// no bad signature (BAD_SIGNATURE) and one by a key of the tree (UNKNOWN_KEY), is not dated
// after the verifier's clock (FUTURE_DATED), is signed by a key valid then (key-validity.ts),
// does not seal past its epoch's end (closure.ts), and its compact range, if any, hashes to the
// signed root at the signed size (ROOT_MISMATCH). Whether its root matches the records is
// judged after the tree walk (roots.ts).
import { type NoteError, parseNote, verifyNoteSignatures } from "../../checkpoint.ts";
import { CompactRange, type Digest, toDigest } from "../../merkle.ts";
import { CLOCK_SKEW_MS } from "../certs.ts";
import type { Report } from "../findings.ts";
import type { CheckpointFact } from "../ingest.ts";
import type { EpochClosure } from "./closure.ts";
import type { EpochInfo } from "./epochs.ts";
import type { CheckpointSigners } from "./key-validity.ts";
import { Tally } from "./tally.ts";

export interface ValidCheckpoint {
  size: number;
  root: Digest;
  keyId: string;
  time: string;
  epoch: number;
  fact: CheckpointFact;
}

export interface CheckpointJudges {
  origin: string;
  /** The verifier's clock (ms). */
  asOf: number;
  /** The tree's epoch keys by id. */
  publicKeys: ReadonlyMap<string, Buffer>;
  signers: CheckpointSigners;
  closure: EpochClosure;
}

/**
 * The checkpoints of the tree's epochs that count, by size then arrival, and the largest size
 * any well-formed one claims (whether or not it checked out).
 */
export function validCheckpoints(
  facts: readonly CheckpointFact[],
  inTree: ReadonlyMap<number, EpochInfo>,
  judges: CheckpointJudges,
  report: Report,
): { valid: ValidCheckpoint[]; claimedTo: number } {
  const { origin, asOf, publicKeys, signers, closure } = judges;
  const future = new Tally();
  const valid: ValidCheckpoint[] = [];
  let claimedTo = 0;
  for (const c of facts) {
    if (!inTree.has(c.epoch)) continue;
    const where = { epoch: c.epoch, position: c.position };
    let note: ReturnType<typeof parseNote>;
    try {
      note = parseNote(c.note);
    } catch (err) {
      report("BAD_FORMAT", `checkpoint note: ${(err as NoteError).message}`, where);
      continue;
    }
    const { size, time } = note.checkpoint;
    if (note.checkpoint.origin !== origin) {
      report("WRONG_ORIGIN", `checkpoint of ${note.checkpoint.origin}`, where);
      continue;
    }
    if (note.checkpoint.epoch !== c.epoch) {
      report(
        "BAD_FORMAT",
        `checkpoint message of epoch ${c.epoch} carries a note of epoch ${note.checkpoint.epoch}`,
        where,
      );
      continue;
    }
    claimedTo = Math.max(claimedTo, size);
    const sigs = verifyNoteSignatures(note, publicKeys);
    if (sigs.invalid.length > 0) {
      report(
        "BAD_SIGNATURE",
        `checkpoint at size ${size}: bad signature by ${sigs.invalid.join(", ")}`,
        where,
      );
      continue;
    }
    const keyId = sigs.valid[0];
    if (keyId === undefined) {
      report(
        "UNKNOWN_KEY",
        `checkpoint at size ${size} is signed only by unknown keys (${sigs.unknown.join(", ")})`,
        where,
      );
      continue;
    }
    // Dated after the verifier's clock: never counted, so it cannot hold off STALE either.
    if (Date.parse(time) > asOf + CLOCK_SKEW_MS) {
      future.add(where, size);
      continue;
    }
    if (!signers.counts(keyId, c.epoch, size, time, where, report)) continue;
    const endSeq = inTree.get(c.epoch)?.endSeq ?? Number.POSITIVE_INFINITY;
    if (closure.checkpointAfterEnd(size, endSeq, where)) continue;
    if (c.range && !rangeHashesTo(c.range, size, note.checkpoint.root)) {
      report(
        "ROOT_MISMATCH",
        `checkpoint at size ${size}: its compact range does not hash to the signed root`,
        where,
      );
      continue;
    }
    valid.push({
      size,
      root: toDigest(note.checkpoint.root),
      keyId,
      time,
      epoch: c.epoch,
      fact: c,
    });
  }
  future.report((n, where, sizes) =>
    report(
      "FUTURE_DATED",
      `${n} checkpoint(s) at sizes ${sizes} dated after this verifier's clock (${new Date(asOf).toISOString()})`,
      { ...where, count: n },
    ),
  );
  closure.reportCheckpoints(report);
  signers.report(report);
  return {
    valid: valid.sort((a, b) => a.size - b.size || a.fact.arrival - b.fact.arrival),
    claimedTo,
  };
}

/** Whether a checkpoint's compact range is well-formed and hashes to `root` at `size`. */
export function rangeHashesTo(
  r: { size: number; hashes: string[] },
  size: number,
  root: Buffer,
): boolean {
  const range = rangeOf(r);
  return range !== null && range.size === size && range.root().equals(root);
}

/** A checkpoint's compact range, or null when it is not one (then it vouches for nothing). */
export function rangeOf(r: { size: number; hashes: string[] }): CompactRange | null {
  const hashes = r.hashes.map((h) => Buffer.from(h, "base64"));
  // One spelling per hash, 32 bytes each: otherwise the message could change undetected.
  if (hashes.some((h, i) => h.length !== 32 || h.toString("base64") !== r.hashes[i])) return null;
  try {
    return new CompactRange(r.size, hashes);
  } catch {
    return null; // the wrong number of hashes for the size: the caller reports the mismatch
  }
}
