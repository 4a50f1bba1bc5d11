// Second pass: one stream (origin) at a time, as the rules under rules/ run in order, per tree:
// epochs and trees (epochs.ts), placement (placement.ts, with epoch closure in closure.ts), the
// tree's epoch keys (epoch-keys.ts), checkpoint validation (checkpoints.ts, key-validity.ts),
// anchoring (anchor.ts, retention.ts for a missing head), the tree walk (below: chain, gaps,
// key ownership, identity, roots at checkpoint sizes), checkpoints against the rebuilt tree
// (roots.ts, owners.ts), consistency with the trusted state (consistency.ts), then the unsealed
// tail, unclean ends, orphans and liveness. What it returns is the stream's report and the tree
// the trusted state keeps.
import type { Digest } from "../merkle.ts";
import type { KeyCert } from "../record.ts";
import { CertBook, CLOCK_SKEW_MS, type PolicyKey } from "./certs.ts";
import { type Finding, type FindingCode, FindingList, finding, type Report } from "./findings.ts";
import type { StreamFacts } from "./ingest.ts";
import { EPOCH_END, EPOCH_START, GAP, KEY_ROTATE, type LeafTable, LOG } from "./leaves.ts";
import { findAnchor } from "./rules/anchor.ts";
import { type ValidCheckpoint, validCheckpoints } from "./rules/checkpoints.ts";
import { EpochClosure, reportUncleanEnds } from "./rules/closure.ts";
import { extendsTrusted, nextTrusted } from "./rules/consistency.ts";
import { EpochKeys } from "./rules/epoch-keys.ts";
import { type EpochInfo, nextStarts, readEpochs, reportUnlinked, treesOf } from "./rules/epochs.ts";
import { IdentityCheck } from "./rules/identity.ts";
import { CheckpointSigners } from "./rules/key-validity.ts";
import { checkLiveness } from "./rules/liveness.ts";
import { reportOrphans } from "./rules/orphans.ts";
import { placeLeaves } from "./rules/placement.ts";
import { missingHead, vanishedTree } from "./rules/retention.ts";
import { matchRoots } from "./rules/roots.ts";
import { Tally } from "./rules/tally.ts";
import { unsealedTail } from "./rules/unsealed.ts";
import type { WitnessCheck } from "./rules/witness.ts";
import type { TrustedTree } from "./trust.ts";

export type { PolicyKey } from "./certs.ts";

export interface StreamContext {
  policyKeys: ReadonlyMap<string, PolicyKey>;
  /** For STALE; undefined turns the liveness check off. */
  now: number | undefined;
  /** The verifier's own clock: dates and key validity are judged against it. */
  asOf: number;
  /** The topic's retention.ms: what alone excuses records the state proves existed. */
  retentionMs: number | undefined;
  /** The clock of this verifier's previous run (its state), if any. */
  stateUpdated: number | undefined;
  graceMs: number;
  trusted: readonly TrustedTree[];
  /** What a trusted witness cosigned of this stream (verify --witness). */
  witness?: WitnessCheck;
}

export interface VerifiedRange {
  epoch: number;
  from: number;
  to: number;
  timeFrom?: string;
  timeTo?: string;
  unsealed: number;
}

export interface StreamResult {
  origin: string;
  findings: Finding[];
  verified: VerifiedRange | null;
  leaves: number;
  checkpoints: number;
  trees: TrustedTree[];
}

// Stands in for a missing leaf, so the tree can be rebuilt past a gap (it never matches).
const ZERO: Digest = "\u0000".repeat(32);
/** Certificates of the current key kept in the trusted state: renewals overlap by a few. */
const MAX_KEPT_CERTS = 4;

export function verifyStream(facts: StreamFacts, ctx: StreamContext): StreamResult {
  return new StreamCheck(facts, ctx).run();
}

class StreamCheck {
  private readonly origin: string;
  private readonly facts: StreamFacts;
  private readonly ctx: StreamContext;
  private readonly findings = new FindingList();
  private readonly certs: CertBook;
  /** Leaves of the tree being checked whose own time is after the verifier's clock. */
  private futureLeaves = new Tally();

  constructor(facts: StreamFacts, ctx: StreamContext) {
    this.origin = facts.origin;
    this.facts = facts;
    this.ctx = ctx;
    // Certificates the state kept are checked again like those in the stream: retention may
    // have removed the messages that carried them.
    const certs = [...facts.certs];
    for (const t of ctx.trusted) {
      for (const cert of t.certs ?? [])
        certs.push({ epoch: cert.epoch, cert, position: "trusted state" });
    }
    const knownKeys = new Set(ctx.trusted.flatMap((t) => Object.keys(t.keys)));
    this.certs = new CertBook(
      this.origin,
      certs,
      ctx.policyKeys,
      { asOf: ctx.asOf, stateUpdated: ctx.stateUpdated, knownKeys },
      (code, message, where) => this.report(code, message, where),
    );
  }

  /**
   * The certificates a key's checkpoints and records of an epoch are judged by; null for a key
   * the trusted state vouches for whose certificates are gone (nothing to judge by), and for a
   * key without a valid one (its checkpoints are refused).
   */
  private certsOf(keyId: string, epoch: number): KeyCert[] | null {
    const certs = this.certs.certsFor(keyId, epoch);
    return certs.length > 0 ? certs : null;
  }

  private report(
    code: FindingCode,
    message: string,
    where: Omit<Finding, "code" | "level" | "message"> = {},
  ) {
    this.findings.push(finding(code, message, { origin: this.origin, ...where }));
  }

  /** How the rules report: as findings of this stream. */
  private readonly reporter: Report = (code, message, where = {}) =>
    this.report(code, message, where);

  run(): StreamResult {
    const epochs = readEpochs(this.facts.leaves, this.facts.checkpoints, this.ctx.trusted);
    const trees = treesOf(epochs);
    const treeIds = [...trees.keys()].sort((a, b) => a - b);
    reportUnlinked(treeIds, trees, this.ctx.trusted, this.reporter);
    const results = treeIds.map((id) => this.verifyTree(id, trees.get(id) ?? []));
    // A tree the state verified with nothing of it left: the state keeps it (it only grows).
    const gone = this.ctx.trusted.filter((t) => !trees.has(t.genesis));
    for (const t of gone) {
      const f = vanishedTree(t, this.ctx.asOf, this.ctx.retentionMs);
      this.report(f.code, `the tree of epoch ${t.genesis} has no records left: ${f.message}`, {
        epoch: t.genesis,
      });
    }
    const latest = results[results.length - 1];
    return {
      origin: this.origin,
      findings: this.findings.all(),
      verified: latest?.verified ?? null,
      leaves: this.facts.leaves.length,
      checkpoints: this.facts.checkpoints.length,
      trees: [...gone, ...results.flatMap((r) => (r.trusted ? [r.trusted] : []))],
    };
  }

  private verifyTree(treeId: number, epochList: EpochInfo[]) {
    const epochs = [...epochList].sort((a, b) => a.epoch - b.epoch);
    const nextStart = nextStarts(epochs);
    const inTree = new Map(epochs.map((e) => [e.epoch, e] as const));
    const leaves = this.facts.leaves;
    const closure = new EpochClosure();
    const { slots, orphaned, withKey, placed, minSeq, maxSeq } = placeLeaves(
      leaves,
      inTree,
      nextStart,
      closure,
      this.reporter,
    );

    const trusted = this.ctx.trusted.find((t) => t.genesis === treeId);
    // Learn the epoch keys the records introduce, in tree order, before judging signatures: a
    // key counts only in the tree that introduces it (or that this verifier saw it in).
    const keys = new EpochKeys(trusted, leaves, withKey);
    const { valid: checkpoints, claimedTo } = validCheckpoints(
      this.facts.checkpoints,
      inTree,
      {
        origin: this.origin,
        asOf: this.ctx.asOf,
        publicKeys: keys.publicKeys(),
        signers: new CheckpointSigners(this.certs, (keyId) => keys.fromState(keyId)),
        closure,
      },
      this.reporter,
    );

    // Anchor: the empty tree, the verifier's own earlier state, or a checkpoint's range.
    const anchor = findAnchor({ slots, minSeq, maxSeq }, trusted, checkpoints);
    const headExcused =
      placed > 0 && minSeq > 0 && anchor?.size !== 0
        ? missingHead(treeId, minSeq, checkpoints, trusted, anchor, this.ctx, this.reporter)
        : true;
    if (!anchor) return { verified: null, trusted };
    const base = anchor.size;

    // Walk the leaves from the anchor: chain, key ownership, gaps; roots at checkpoint sizes.
    // The tree is rebuilt only up to the largest size something signed (a checkpoint, or this
    // verifier's state); past it the walk visits only the seqs that hold a leaf, so a record
    // with a huge seq is one GAP finding, not a loop over every seq before it.
    // Roots are rebuilt only up to the first missing leaf: past it no root can match, so a
    // checkpoint claiming a size far beyond the records costs nothing (it is a mismatch).
    const sizes = new Set(checkpoints.map((c) => c.size));
    if (trusted) sizes.add(trusted.size);
    let claimedEnd = base;
    for (const size of sizes) if (size > claimedEnd) claimedEnd = size;
    const end = Math.max(maxSeq + 1, claimedEnd);
    let treeEnd = base;
    while (treeEnd < claimedEnd && slots.get(treeEnd) >= 0) treeEnd++;
    // Roots at the witness's sizes too (never past what is claimed: that is the rule's GAP).
    const treeEpochs: ReadonlySet<number> = new Set(inTree.keys());
    for (const size of this.ctx.witness?.sizes(treeEpochs, claimedEnd) ?? []) sizes.add(size);
    const roots = new Map<number, Digest>([[base, anchor.range.rootDigest()]]);
    // The roots the checkpoints sign, by size: where the rebuilt tree matches one, its compact
    // range is kept, so the trusted state needs no second pass over the leaves.
    const signedRoots = new Map<number, Set<Digest>>();
    for (const c of checkpoints) {
      const set = signedRoots.get(c.size) ?? new Set<Digest>();
      set.add(c.root);
      signedRoots.set(c.size, set);
    }
    let matchedRange = { size: base, range: anchor.range.clone() };
    // Who owns each seq up to treeEnd: the key current when it was appended, as a small number.
    const keyIds = [""];
    const keyNumbers = new Map<string, number>([["", 0]]);
    const keyNumber = (id: string): number => {
      let n = keyNumbers.get(id);
      if (n === undefined) {
        n = keyIds.length;
        keyIds.push(id);
        keyNumbers.set(id, n);
      }
      return n;
    };
    const owner = new Int32Array(treeEnd - base);
    const range = anchor.range.clone();
    // The key current at the anchor: the verifier's own record of it, or the anchor's signer.
    let currentKey = anchor.keyId ?? "";
    const keyAtSize = new Map<number, string>();
    let missingFrom = -1;
    const flushMissing = (upTo: number) => {
      if (missingFrom < 0) return;
      this.report("GAP", `seq ${missingFrom}..${upTo - 1} missing`, {
        epoch: treeId,
        seq: [missingFrom, upTo - 1],
        count: upTo - missingFrom,
      });
      missingFrom = -1;
    };
    // The leaf at the seq before the one visited, or -1 when it is missing (or the anchor).
    let before = -1;
    // Records that name another pod than their key's certificate: none of them counts, so no
    // checkpoint from the first one on advances what is verified.
    const identities = new IdentityCheck(leaves, (keyId, epoch) => this.certsOf(keyId, epoch));
    let firstStranger = Number.POSITIVE_INFINITY;
    const visit = (seq: number, i: number) => {
      flushMissing(seq);
      if (
        (seq === 0 && !leaves.prevIsNull(i)) ||
        (seq > base && !(before >= 0 && leaves.chainsTo(i, before)))
      ) {
        this.report("BROKEN_CHAIN", `seq ${seq}: prev does not match the record before it`, {
          epoch: leaves.epochAt(i),
          seq: [seq, seq],
          position: leaves.positionAt(i),
        });
      }
      const type = leaves.typeCodeAt(i);
      if (type === LOG) {
        if (!identities.check(i, currentKey) && seq < firstStranger) firstStranger = seq;
      } else this.visitSpecial(leaves, i, seq, inTree);
      if (type === EPOCH_START || type === KEY_ROTATE) {
        const next = leaves.extrasAt(i)?.key?.keyId ?? "";
        if (type === EPOCH_START) currentKey = next;
        if (seq < treeEnd) owner[seq - base] = keyNumber(currentKey);
        if (type === KEY_ROTATE) currentKey = next;
      } else if (seq < treeEnd) owner[seq - base] = keyNumber(currentKey);
      before = i;
    };
    for (let seq = base; seq < treeEnd; seq++) {
      const i = slots.get(seq);
      if (i < 0) {
        if (missingFrom < 0) missingFrom = seq;
        owner[seq - base] = keyNumber(currentKey);
        range.appendDigest(ZERO);
        before = -1;
      } else {
        visit(seq, i);
        range.appendDigest(leaves.hashAt(i));
      }
      if (sizes.has(seq + 1)) {
        const root = range.rootDigest();
        roots.set(seq + 1, root);
        keyAtSize.set(seq + 1, currentKey);
        if (seq + 1 <= firstStranger && signedRoots.get(seq + 1)?.has(root))
          matchedRange = { size: seq + 1, range: range.clone() };
      }
    }
    let cursor = treeEnd;
    for (const seq of slots.seqsFrom(treeEnd)) {
      if (seq > cursor) {
        if (missingFrom < 0) missingFrom = cursor;
        before = -1;
      }
      visit(seq, slots.get(seq));
      cursor = seq + 1;
    }
    // Up to the largest size signed: what a checkpoint (or the state) claims and is not here.
    if (cursor < end && missingFrom < 0) missingFrom = cursor;
    flushMissing(end);
    identities.report((message, seq, count) =>
      this.report("IDENTITY_MISMATCH", message, { epoch: treeId, seq, count }),
    );
    this.futureLeaves.report((n, where) =>
      this.report(
        "FUTURE_DATED",
        `${n} record(s) dated after this verifier's clock (${new Date(this.ctx.asOf).toISOString()})`,
        { ...where, seq: this.futureLeaves.span, count: n },
      ),
    );
    this.futureLeaves = new Tally();

    // Checkpoints against the rebuilt tree, against each other, and against key ownership.
    const { matched, covered, coveredRoot } = matchRoots(
      checkpoints,
      { base, baseRoot: anchor.range.rootDigest(), roots, signedRoots, nextStart, firstStranger },
      { owner, keyIds, orderOf: keys.orderOf },
      this.reporter,
    );
    this.ctx.witness?.checkTree(treeEpochs, roots, covered, this.reporter);
    const linked = extendsTrusted(trusted, anchor.size, headExcused, roots, maxSeq, this.reporter);

    // Records after the last checkpoint, crashes, superseded records, silence.
    const { unsealed, finding: tail } = unsealedTail(
      slots,
      Math.max(covered, claimedTo),
      end,
      matched.length === 0 || (covered === anchor.size && anchor.size === 0),
      { origin: this.origin, epoch: epochs[epochs.length - 1]?.epoch ?? treeId },
    );
    if (tail) this.findings.push(tail);
    reportUncleanEnds(epochs, leaves, orphaned, this.reporter);
    reportOrphans(leaves, orphaned, slots, this.reporter);
    const lastEpoch = epochs[epochs.length - 1];
    const newest = matched[matched.length - 1];
    checkLiveness(
      this.ctx.now,
      this.ctx.graceMs,
      lastEpoch && { ...lastEpoch, heartbeatMs: lastEpoch.start?.heartbeatMs },
      newest?.time,
      this.reporter,
    );

    const verifiedMatched = matched.filter((c) => c.size > anchor.size);
    const verified: VerifiedRange = {
      epoch: lastEpoch?.epoch ?? treeId,
      from: anchor.size,
      to: covered - 1,
      unsealed,
      ...(verifiedMatched[0] ? { timeFrom: verifiedMatched[0].time } : {}),
      ...(newest ? { timeTo: newest.time } : {}),
    };
    // covered is anchor.size or the size of a checkpoint whose root matched: kept above.
    const finalRange = matchedRange.size === covered ? matchedRange.range : undefined;
    if (!finalRange) throw new Error(`internal: no compact range kept at size ${covered}`);
    const candidate: TrustedTree | undefined =
      covered > 0
        ? {
            genesis: treeId,
            epoch: lastEpoch?.epoch ?? treeId,
            size: covered,
            root: Buffer.from(coveredRoot, "latin1").toString("base64"),
            range: finalRange.toJSON().hashes,
            checkpointTime: newest?.time ?? trusted?.checkpointTime ?? "",
            ended: lastEpoch?.ended ?? false,
            keyId: keyAtSize.get(covered) ?? anchor.keyId ?? "",
            keys: keys.toRecord(),
            certs: this.keptCerts(keyAtSize.get(covered) ?? anchor.keyId ?? "", lastEpoch, newest),
          }
        : undefined;
    return { verified, trusted: nextTrusted(trusted, linked, candidate) };
  }

  /**
   * The certificates the state keeps: those of the key current at the verified size that are
   * still of use (retention may remove the messages before the checkpoints they cover).
   */
  private keptCerts(
    keyId: string,
    lastEpoch: EpochInfo | undefined,
    newest: ValidCheckpoint | undefined,
  ): KeyCert[] {
    if (!lastEpoch) return [];
    const since = newest ? Date.parse(newest.time) - CLOCK_SKEW_MS : Number.NEGATIVE_INFINITY;
    return this.certs
      .certsFor(keyId, lastEpoch.epoch)
      .filter((c) => Date.parse(c.notAfter) >= since)
      .sort((a, b) => Date.parse(b.notAfter) - Date.parse(a.notAfter))
      .slice(0, MAX_KEPT_CERTS);
  }

  /** What a leaf other than a log record adds as it is visited: epoch ends and gap reports. */
  private visitSpecial(
    leaves: LeafTable,
    i: number,
    seq: number,
    inTree: ReadonlyMap<number, EpochInfo>,
  ): void {
    const type = leaves.typeCodeAt(i);
    if (type === EPOCH_END) (inTree.get(leaves.epochAt(i)) as EpochInfo).ended = true;
    const time = leaves.extrasAt(i)?.time;
    if (time !== undefined && Date.parse(time) > this.ctx.asOf + CLOCK_SKEW_MS)
      this.futureLeaves.add({ epoch: leaves.epochAt(i), position: leaves.positionAt(i) }, seq);
    const g = type === GAP ? leaves.extrasAt(i)?.gap : undefined;
    if (g) {
      this.report(
        "GAP",
        `the sidecar lost ${g.file} bytes ${g.lostFrom}..${g.lostTo} (${g.reason})`,
        {
          epoch: leaves.epochAt(i),
          seq: [seq, seq],
          position: leaves.positionAt(i),
        },
      );
    }
  }
}
