// ../shared/TAMPER-CATALOG.md rows 24-28: what was verified stays verified, time is the
// verifier's own, an ended epoch is closed, and no one message stops the run.
import { describe, expect, it } from "vitest";
import { canonicalBytes } from "../canonical.ts";
import { signNote } from "../checkpoint.ts";
import { generateSigningKey } from "../keys.ts";
import { CompactRange, leafHash } from "../merkle.ts";
import type { Emitted } from "../seal.ts";
import {
  Clock,
  certMessage,
  findingCodes,
  StreamBuilder,
  sampleEvent,
  T0,
  verifyMessages,
} from "./testing.ts";
import type { TrustedState } from "./trust.ts";

type Obj = Record<string, unknown>;
const DAY = 86_400_000;
const WEEK = 7 * DAY;
const A = "test/payments/api-0/api/var/log/app/access.log";
const B = "test/payments/api-1/api/var/log/app/access.log";

const parse = (m: Emitted): Obj => JSON.parse(m.value.toString()) as Obj;
const leafAt = (msgs: readonly Emitted[], seq: number) =>
  msgs.find((m) => m.kind === "leaf" && m.seq === seq) as Emitted;

/** A checkpoint message over `leaves` (in seq order), signed with a stolen epoch key. */
function forgeCheckpoint(
  b: StreamBuilder,
  leaves: readonly Buffer[],
  time: number,
  withRange = false,
): Emitted {
  const range = new CompactRange();
  for (const l of leaves) range.append(leafHash(l));
  const epoch = b.sealer.epoch;
  const note = signNote(
    { origin: b.origin, size: range.size, root: range.root(), epoch, time: iso(time) },
    [b.currentKey],
  );
  const value = canonicalBytes({
    v: 1,
    type: "checkpoint",
    origin: b.origin,
    epoch,
    note,
    ...(withRange ? { range: range.toJSON() } : {}),
  });
  return { kind: "checkpoint", type: "checkpoint", key: b.origin, seq: range.size, value };
}

const iso = (t: number) => new Date(t).toISOString();

/** Leaf values with their `prev` recomputed from `from` on, as an editor would. */
function rechain(leaves: Buffer[], from: number): Buffer[] {
  const out = [...leaves];
  for (let i = from; i < out.length; i++) {
    const prev = i === 0 ? null : leafHash(out[i - 1] as Buffer).toString("hex");
    out[i] = canonicalBytes({ ...(JSON.parse((out[i] as Buffer).toString()) as Obj), prev });
  }
  return out;
}

describe("24: what a trusted state proved is deleted or changed", () => {
  // Verified to size 21; then the stream goes on to 41.
  function verifiedThenGrown() {
    const b = new StreamBuilder().logs(20);
    const first = verifyMessages(b.messages, b.trustedKeys(), { asOf: b.clock.now() });
    expect(findingCodes(first)).toEqual([]);
    expect(first.state.origins[b.origin]?.trees[0]?.size).toBe(21);
    b.logs(20);
    return { b, state: first.state };
  }
  const treeOf = (s: TrustedState) => s.origins[A]?.trees[0];

  it("the head the state anchors on deleted, with no retention to explain it, is a GAP", () => {
    const { b, state } = verifiedThenGrown();
    const cut = b.messages.filter((m) => m.kind === "key-cert" || m.seq >= 25);
    const r = verifyMessages(cut, b.trustedKeys(), { trustedState: state, asOf: b.clock.now() });
    expect(findingCodes(r)).toEqual(["GAP"]);
    expect(r.ok).toBe(false);
    expect(r.streams[0]?.findings[0]).toMatchObject({ code: "GAP", seq: [0, 24] });
    // The state keeps its anchor.
    expect(treeOf(r.state)).toEqual(treeOf(state));
  });

  it("the same loss, when retention explains it, is HEAD_TRUNCATED", () => {
    const { b, state } = verifiedThenGrown();
    const cut = b.messages.filter((m) => m.kind === "key-cert" || m.seq >= 15);
    const early = verifyMessages(cut, b.trustedKeys(), {
      trustedState: state,
      retentionMs: WEEK,
      asOf: T0 + DAY,
    });
    expect(findingCodes(early)).toEqual(["GAP"]);
    const late = verifyMessages(cut, b.trustedKeys(), {
      trustedState: state,
      retentionMs: WEEK,
      asOf: T0 + 8 * DAY,
    });
    expect(findingCodes(late)).toEqual(["HEAD_TRUNCATED"]);
    expect(late.streams[0]?.verified).toMatchObject({ from: 21, to: 40 });
  });

  it("with the epoch key stolen: head deleted, a record edited and re-sealed with a range, is a GAP and the state keeps its tree", () => {
    const { b, state } = verifiedThenGrown();
    const leaves = b.messages.filter((m) => m.kind === "leaf").map((m) => m.value);
    const edited = parse(leafAt(b.messages, 30));
    leaves[30] = canonicalBytes({
      ...edited,
      event: { ...(edited.event as Obj), raw: "edited" },
    });
    const forged = rechain(leaves, 30);
    const msgs: Emitted[] = [
      ...b.messages.filter((m) => m.kind === "key-cert"),
      ...forged.slice(25).map((value, k) => ({
        kind: "leaf" as const,
        type: "log",
        key: b.origin,
        seq: 25 + k,
        value,
      })),
      forgeCheckpoint(b, forged, b.clock.now(), true),
    ];
    const r = verifyMessages(msgs, b.trustedKeys(), { trustedState: state, asOf: b.clock.now() });
    expect(findingCodes(r)).toEqual(["GAP"]);
    expect(treeOf(r.state)).toEqual(treeOf(state));
    // And the next run, on the kept state, says so again: nothing was laundered.
    const again = verifyMessages(msgs, b.trustedKeys(), {
      trustedState: r.state,
      asOf: b.clock.now(),
    });
    expect(findingCodes(again)).toEqual(["GAP"]);
  });

  it("a verified record changed under a state that anchors after it is INCONSISTENT_CHECKPOINT, and the state keeps its tree", () => {
    const { b, state } = verifiedThenGrown();
    const leaves = b.messages.filter((m) => m.kind === "leaf").map((m) => m.value);
    const edited = parse(leafAt(b.messages, 5));
    leaves[5] = canonicalBytes({ ...edited, event: { ...(edited.event as Obj), raw: "edited" } });
    const forged = rechain(leaves, 5);
    const msgs: Emitted[] = [
      ...b.messages.filter((m) => m.kind === "key-cert"),
      ...forged.map((value, seq) => ({
        kind: "leaf" as const,
        type: "x",
        key: b.origin,
        seq,
        value,
      })),
      forgeCheckpoint(b, forged, b.clock.now(), true),
    ];
    const r = verifyMessages(msgs, b.trustedKeys(), { trustedState: state, asOf: b.clock.now() });
    expect(findingCodes(r)).toEqual(["INCONSISTENT_CHECKPOINT"]);
    expect(treeOf(r.state)).toEqual(treeOf(state));
  });
});

describe("25: a stream known to the state vanishes from the store", () => {
  function twoStreams() {
    const a = new StreamBuilder({ origin: A }).logs(20);
    const b = new StreamBuilder({ origin: B, policyKey: a.policyKey, clock: a.clock }).logs(20);
    const first = verifyMessages([...a.messages, ...b.messages], a.trustedKeys(), {
      asOf: a.clock.now(),
    });
    expect(findingCodes(first)).toEqual([]);
    return { a, b, state: first.state };
  }

  it("in whole: an error that names the stream, and the state keeps it", () => {
    const { a, state } = twoStreams();
    const r = verifyMessages(a.messages, a.trustedKeys(), {
      trustedState: state,
      asOf: a.clock.now(),
    });
    expect(findingCodes(r)).toEqual(["GAP"]);
    expect(r.unplaced[0]).toMatchObject({ code: "GAP", level: "error", origin: B });
    expect(r.unplaced[0]?.message).toContain(`stream ${B} has no records left`);
    expect(r.state.origins[B]).toEqual(state.origins[B]);
  });

  it("in whole, after the retention: HEAD_TRUNCATED, a warning", () => {
    const { a, state } = twoStreams();
    const r = verifyMessages(a.messages, a.trustedKeys(), {
      trustedState: state,
      retentionMs: WEEK,
      asOf: T0 + 8 * DAY,
    });
    expect(r.unplaced.map((f) => f.code)).toEqual(["HEAD_TRUNCATED"]);
  });

  it("after some point: INCONSISTENT_CHECKPOINT on that stream", () => {
    const { a, b, state } = twoStreams();
    const cut = b.messages.filter((m) => m.seq < 15 || m.kind === "key-cert");
    const r = verifyMessages([...a.messages, ...cut], a.trustedKeys(), {
      trustedState: state,
      asOf: a.clock.now(),
    });
    expect(findingCodes(r)).toEqual(["GAP", "INCONSISTENT_CHECKPOINT", "UNSEALED_TAIL"]);
    const found = r.streams.find((s) => s.origin === B)?.findings ?? [];
    expect(found.find((f) => f.code === "GAP")?.seq).toEqual([15, 20]);
    expect(found.find((f) => f.code === "INCONSISTENT_CHECKPOINT")?.message).toMatch(
      /the store ends at size 15, but this verifier verified size 21 before/,
    );
  });
});

describe("26: dates are judged against the verifier's own clock", () => {
  it("a checkpoint dated in the future is FUTURE_DATED and does not silence STALE", () => {
    const b = new StreamBuilder().logs(20); // sealed to 21
    b.clock.advance(10 * 60_000);
    const leaves = b.messages.filter((m) => m.kind === "leaf").map((m) => m.value);
    const future = forgeCheckpoint(b, leaves, b.clock.now() + 60 * 60_000);
    const r = verifyMessages([...b.messages, future], b.trustedKeys(), { now: b.clock.now() });
    expect(findingCodes(r)).toEqual(["FUTURE_DATED", "STALE"]);
    expect(r.streams[0]?.verified?.timeTo).toBe(iso(T0 + 20));
  });

  it("a certificate dated in the future is FUTURE_DATED; nothing its key sealed counts", () => {
    const b = new StreamBuilder({ certs: "never" }).logs(20);
    const cert = b.operator.certify(b.currentKey, b.origin, b.sealer.epoch, b.identity, T0 + DAY);
    const r = verifyMessages([...b.messages, certMessage(cert)], b.trustedKeys(), {
      asOf: b.clock.now(),
    });
    expect(findingCodes(r)).toEqual(["FUTURE_DATED"]);
    expect(r.streams[0]?.verified?.to).toBe(-1);
  });

  it("records dated in the future are FUTURE_DATED", () => {
    const b = new StreamBuilder().logs(5);
    b.push(b.sealer.end("SIGTERM"));
    const r = verifyMessages(b.messages, b.trustedKeys(), { asOf: T0 - 60 * 60_000 });
    expect(findingCodes(r)).toContain("FUTURE_DATED");
    expect(r.ok).toBe(false);
  });

  it("a retired policy key, leaked, certifying a key with back-dated times after the verifier's last run is KEY_NOT_VALID", () => {
    const retired = generateSigningKey();
    const current = generateSigningKey();
    const R = T0 + 60 * 60_000;
    const keys = [
      { publicKey: retired.publicKey.toString("base64"), notAfter: iso(R) },
      { publicKey: current.publicKey.toString("base64") },
    ];
    // C: a real stream certified by the old key before it was retired, seen by the first run.
    const c = new StreamBuilder({ origin: A, policyKey: retired }).logs(10);
    c.push(c.sealer.end("SIGTERM"));
    const first = verifyMessages(c.messages, keys, { asOf: R + 60 * 60_000 });
    expect(findingCodes(first)).toEqual([]);
    // After that run: a stream certified by the retired key, dated before its retirement.
    const forged = new StreamBuilder({
      origin: B,
      policyKey: retired,
      clock: new Clock(T0 + 30 * 60_000),
    }).logs(10);
    forged.push(forged.sealer.end("SIGTERM"));
    const all = [...c.messages, ...forged.messages];
    // Without a state nothing tells it from a genuine old stream; with one, the clock does.
    expect(findingCodes(verifyMessages(all, keys, { asOf: R + 2 * 60 * 60_000 }))).toEqual([]);
    const r = verifyMessages(all, keys, {
      trustedState: first.state,
      asOf: R + 2 * 60 * 60_000,
    });
    expect(findingCodes(r)).toEqual(["KEY_NOT_VALID"]);
    expect(r.streams.find((s) => s.origin === A)?.findings).toEqual([]);
    expect(r.streams.find((s) => s.origin === B)?.verified?.to).toBe(-1);
  });
});

describe("27: an ended epoch is closed", () => {
  function ended() {
    const b = new StreamBuilder().logs(25);
    b.push(b.sealer.end("SIGTERM")); // leaves 0..26, sealed to 27
    const last = leafAt(b.messages, 26);
    const after = canonicalBytes({
      v: 1,
      origin: b.origin,
      epoch: b.sealer.epoch,
      seq: 27,
      prev: leafHash(last.value).toString("hex"),
      type: "log",
      event: { ...sampleEvent(99), k8s: b.identity },
    });
    const leaf: Emitted = { kind: "leaf", type: "log", key: b.origin, seq: 27, value: after };
    return { b, leaf };
  }

  it("a record appended after epoch-end, unsigned, is AFTER_END", () => {
    const { b, leaf } = ended();
    const r = verifyMessages([...b.messages, leaf], b.trustedKeys());
    expect(findingCodes(r)).toEqual(["AFTER_END"]);
    expect(r.streams[0]?.findings[0]).toMatchObject({ seq: [27, 27], count: 1 });
    expect(r.streams[0]?.verified).toMatchObject({ from: 0, to: 26 });
  });

  it("a record appended after epoch-end and sealed with the epoch key is AFTER_END, never verified", () => {
    const { b, leaf } = ended();
    const leaves = [...b.messages.filter((m) => m.kind === "leaf"), leaf].map((m) => m.value);
    const sealed = forgeCheckpoint(b, leaves, b.clock.now());
    const r = verifyMessages([...b.messages, leaf, sealed], b.trustedKeys());
    expect(findingCodes(r)).toEqual(["AFTER_END"]);
    expect(r.ok).toBe(false);
    expect(r.streams[0]?.verified).toMatchObject({ from: 0, to: 26 });
  });
});

describe("28: one message cannot stop the run", () => {
  const HUGE = Number.MAX_SAFE_INTEGER;
  function streams() {
    const a = new StreamBuilder({ origin: A }).logs(20);
    a.push(a.sealer.end("SIGTERM"));
    // Not ended: after an epoch-end the checkpoint would be AFTER_END (row 27).
    const b = new StreamBuilder({ origin: B, policyKey: a.policyKey }).logs(20);
    b.push(b.sealer.flush()); // leaves 0..20, sealed to 21
    return { a, b };
  }
  /** A checkpoint of B signed with B's stolen key, claiming a size of 2^53 - 1. */
  function huge(b: StreamBuilder, withRange: boolean): Emitted {
    const hashes = Array.from({ length: 53 }, (_, k) => Buffer.alloc(32, k + 1));
    const root = new CompactRange(HUGE, hashes).root();
    const note = signNote(
      { origin: b.origin, size: HUGE, root, epoch: b.sealer.epoch, time: iso(b.clock.now()) },
      [b.currentKey],
    );
    const range = withRange ? { size: HUGE, hashes: hashes.map((h) => h.toString("base64")) } : {};
    const value = canonicalBytes({
      v: 1,
      type: "checkpoint",
      origin: b.origin,
      epoch: b.sealer.epoch,
      note,
      ...(withRange ? { range } : {}),
    });
    return { kind: "checkpoint", type: "checkpoint", key: b.origin, seq: HUGE, value };
  }

  for (const withRange of [false, true]) {
    it(`a checkpoint claiming 2^53 - 1 leaves${withRange ? ", with a valid range," : ""} is a finding in bounded time; the other stream is unaffected`, () => {
      const { a, b } = streams();
      const started = performance.now();
      const r = verifyMessages([...a.messages, ...b.messages, huge(b, withRange)], a.trustedKeys());
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(r.streams.find((s) => s.origin === A)?.findings).toEqual([]);
      const sb = r.streams.find((s) => s.origin === B);
      expect(sb?.findings.map((f) => f.code)).toEqual(["GAP", "ROOT_MISMATCH"]);
      expect(sb?.findings[0]).toMatchObject({ seq: [21, HUGE - 1], count: HUGE - 21 });
      expect(sb?.verified).toMatchObject({ from: 0, to: 20 });
    });
  }

  it("an unexpected failure in one stream is UNVERIFIABLE for it alone", () => {
    const { a, b } = streams();
    const first = verifyMessages([...a.messages, ...b.messages], a.trustedKeys());
    const state = structuredClone(first.state);
    const tree = state.origins[B]?.trees[0];
    if (!tree) throw new Error("no tree");
    tree.range = tree.range.slice(1); // a damaged state file: the wrong number of hashes
    const cut = b.messages.filter((m) => m.seq >= 5 || m.kind === "key-cert");
    const r = verifyMessages([...a.messages, ...cut], a.trustedKeys(), { trustedState: state });
    expect(r.streams.find((s) => s.origin === A)?.findings).toEqual([]);
    expect(r.streams.find((s) => s.origin === B)?.findings.map((f) => f.code)).toEqual([
      "UNVERIFIABLE",
    ]);
    expect(r.state.origins[B]).toEqual(state.origins[B]);
  });
});
