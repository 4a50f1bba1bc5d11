// ../shared/TAMPER-CATALOG.md, row by row: each test builds a real stream with the sealer,
// damages it as the row says, and asserts the findings and the verified range.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalBytes } from "../canonical.ts";
import { parseNote, signNote } from "../checkpoint.ts";
import { generateSigningKey } from "../keys.ts";
import { CompactRange, leafHash } from "../merkle.ts";
import type { Emitted, StreamState } from "../seal.ts";
import type { FindingCode } from "./findings.ts";
import { asInput, StreamBuilder, sampleEvent, T0 } from "./testing.ts";
import type { TrustedKey, TrustedState } from "./trust.ts";
import { Verifier, type VerifyReport } from "./verifier.ts";

type Msg = Emitted;
type Obj = Record<string, unknown>;

function verify(
  msgs: readonly Msg[],
  keys: TrustedKey[],
  opts: {
    now?: number;
    asOf?: number;
    state?: TrustedState;
    key?: string;
    retentionMs?: number;
  } = {},
): VerifyReport {
  const v = new Verifier({
    trustedKeys: keys,
    ...(opts.now === undefined ? {} : { now: opts.now }),
    ...(opts.state ? { trustedState: opts.state } : {}),
    ...(opts.retentionMs === undefined ? {} : { retentionMs: opts.retentionMs }),
    ...(opts.asOf === undefined ? {} : { asOf: opts.asOf }),
  });
  for (const m of asInput(msgs, opts.key)) v.add(m);
  return v.finish();
}

const codes = (r: VerifyReport): FindingCode[] =>
  [...new Set([...r.unplaced, ...r.streams.flatMap((s) => s.findings)].map((f) => f.code))].sort();
const parse = (m: Msg): Obj => JSON.parse(m.value.toString()) as Obj;
const remake = (m: Msg, value: Obj): Msg => ({ ...m, value: canonicalBytes(value) });
const indexOfLeaf = (msgs: readonly Msg[], seq: number) =>
  msgs.findIndex((m) => m.kind === "leaf" && m.seq === seq);
const indexOfCheckpoint = (msgs: readonly Msg[], size: number) =>
  msgs.findIndex((m) => m.kind === "checkpoint" && m.seq === size);

/** Recomputes every leaf's prev from the leaves as they now are: what an editor would do. */
function rechain(msgs: Msg[]): Msg[] {
  let prev: string | null = null;
  return msgs.map((m) => {
    if (m.kind !== "leaf") return m;
    const next = remake(m, { ...parse(m), prev });
    prev = leafHash(next.value).toString("hex");
    return next;
  });
}

/** 25 log lines, a checkpoint every 10 leaves, ended cleanly: leaves 0..26, sealed to 27. */
function sealedStream(): StreamBuilder {
  const b = new StreamBuilder().logs(25);
  b.push(b.sealer.end("SIGTERM"));
  return b;
}

describe("the tamper catalog", () => {
  it("0: an untouched stream verifies with no finding", () => {
    const b = sealedStream();
    const r = verify(b.messages, b.trustedKeys());
    expect(codes(r)).toEqual([]);
    expect(r.streams[0]?.verified).toMatchObject({ from: 0, to: 26, unsealed: 0 });
  });

  it("1: every single-bit flip in a sealed range, records and checkpoints alike, is caught", () => {
    const b = new StreamBuilder({ seal: { entries: 2 } }).logs(2);
    b.push(b.sealer.end("SIGTERM"));
    const allowed = new Set<FindingCode>([
      "ROOT_MISMATCH",
      "NON_CANONICAL",
      "BAD_FORMAT",
      "BAD_SIGNATURE",
      // A flip inside seq, epoch or origin moves the record: these say where it went.
      "GAP",
      "BROKEN_CHAIN",
      "CONFLICT",
      "WRONG_ORIGIN",
      "UNKNOWN_KEY",
      "INCONSISTENT_CHECKPOINT",
      "SEALED_BY_LATER_KEY",
      "KEY_NOT_VALID",
      // A flip in seq or epoch can move a record after its epoch's end.
      "AFTER_END",
    ]);
    let flips = 0;
    for (let i = 0; i < b.messages.length; i++) {
      const m = b.messages[i] as Msg;
      for (let bit = 0; bit < m.value.length * 8; bit++) {
        const byte = bit >> 3;
        const value = Buffer.from(m.value);
        value[byte] = (value[byte] as number) ^ (1 << (bit & 7));
        const damaged = b.messages.map((x, j) => (j === i ? { ...x, value } : x));
        const r = verify(damaged, b.trustedKeys());
        const errors = codes(r).filter((c) => allowed.has(c));
        expect(r.ok, `message ${i} bit ${bit}`).toBe(false);
        expect(errors.length, `message ${i} bit ${bit}: ${codes(r)}`).toBeGreaterThan(0);
        flips++;
      }
    }
    expect(flips).toBeGreaterThan(25_000);
  }, 120_000);

  it("1 (property): any single-byte change to a sealed record or checkpoint is detected", () => {
    const b = sealedStream();
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }), (mi, bi, x) => {
        const i = mi % b.messages.length;
        const m = b.messages[i] as Msg;
        const value = Buffer.from(m.value);
        const at = bi % value.length;
        value[at] = (value[at] as number) ^ x;
        const r = verify(
          b.messages.map((y, j) => (j === i ? { ...y, value } : y)),
          b.trustedKeys(),
        );
        return !r.ok;
      }),
      { numRuns: 300 },
    );
  });

  it("2: an edited record with every later prev recomputed is a ROOT_MISMATCH", () => {
    const b = sealedStream();
    const msgs = [...b.messages];
    const i = indexOfLeaf(msgs, 5);
    const rec = parse(msgs[i] as Msg) as { event: { raw: string } };
    msgs[i] = remake(msgs[i] as Msg, { ...rec, event: { ...rec.event, raw: "edited" } });
    const r = verify(rechain(msgs), b.trustedKeys());
    expect(codes(r)).toEqual(["ROOT_MISMATCH"]);
    expect(r.streams[0]?.verified?.to).toBe(0);
  });

  it("3: a record deleted in the middle is a GAP and a ROOT_MISMATCH", () => {
    const b = sealedStream();
    const msgs = b.messages.filter((_, i) => i !== indexOfLeaf(b.messages, 5));
    const r = verify(msgs, b.trustedKeys());
    expect(codes(r)).toEqual(["BROKEN_CHAIN", "GAP", "ROOT_MISMATCH"]);
    const gap = r.streams[0]?.findings.find((f) => f.code === "GAP");
    expect(gap?.seq).toEqual([5, 5]);
  });

  it("4: two records' contents swapped is a ROOT_MISMATCH; only their order swapped is a REORDER", () => {
    const b = sealedStream();
    const [i, j] = [indexOfLeaf(b.messages, 5), indexOfLeaf(b.messages, 6)];
    const [a, c] = [parse(b.messages[i] as Msg), parse(b.messages[j] as Msg)];
    const swapped = [...b.messages];
    swapped[i] = remake(b.messages[i] as Msg, { ...a, event: c.event });
    swapped[j] = remake(b.messages[j] as Msg, { ...c, event: a.event });
    expect(codes(verify(swapped, b.trustedKeys()))).toEqual(["BROKEN_CHAIN", "ROOT_MISMATCH"]);

    const reordered = [...b.messages];
    [reordered[i], reordered[j]] = [b.messages[j] as Msg, b.messages[i] as Msg];
    const r = verify(reordered, b.trustedKeys());
    expect(codes(r)).toEqual(["REORDER"]);
    expect(r.ok).toBe(true);
  });

  it("5: the same bytes twice are a DUPLICATE; the same seq with other bytes is a CONFLICT", () => {
    const b = sealedStream();
    const i = indexOfLeaf(b.messages, 7);
    const dup = verify([...b.messages, b.messages[i] as Msg], b.trustedKeys());
    expect(codes(dup)).toEqual(["DUPLICATE"]);
    expect(dup.ok).toBe(true);

    const other = remake(b.messages[i] as Msg, {
      ...parse(b.messages[i] as Msg),
      event: sampleEvent(99),
    });
    const conflict = verify([...b.messages, other], b.trustedKeys());
    expect(codes(conflict)).toEqual(["CONFLICT"]);
  });

  it("6: records after the last checkpoint are an UNSEALED_TAIL, never counted as verified", () => {
    const b = new StreamBuilder().logs(25); // leaves 0..25, sealed to 21
    const r = verify(b.messages, b.trustedKeys());
    expect(codes(r)).toEqual(["UNSEALED_TAIL"]);
    expect(r.ok).toBe(true);
    expect(r.streams[0]?.verified).toMatchObject({ from: 0, to: 20, unsealed: 5 });
  });

  it("7: the tail and its checkpoints removed is STALE", () => {
    const b = new StreamBuilder().logs(20); // sealed to 21
    b.clock.advance(10 * 60_000);
    const cut = b.messages.slice(0, indexOfCheckpoint(b.messages, 11) + 1);
    const r = verify(cut, b.trustedKeys(), { now: b.clock.now() });
    expect(codes(r)).toEqual(["STALE"]);
    expect(r.streams[0]?.verified?.to).toBe(10);
  });

  it("8: the tail truncated and re-sealed with a later key is SEALED_BY_LATER_KEY, or INCONSISTENT_CHECKPOINT for a verifier that saw it", () => {
    const b = new StreamBuilder().logs(10); // leaves 0..10, sealed to 11 by key 1
    b.rotateKey(); // key-rotate at 11, sealed to 12 by key 1
    b.logs(10); // 12..21, sealed to 22 by key 2
    const before = verify(b.messages, b.trustedKeys());
    expect(codes(before)).toEqual([]);

    // The attacker holds key 2: cut after seq 5, put the genuine key-rotate at 6, write on.
    const stolen = b.epochKeys[1];
    if (!stolen) throw new Error("no second key");
    const kept = b.messages
      .slice(0, indexOfLeaf(b.messages, 5) + 1)
      .filter((m) => m.kind === "leaf" || m.seq <= 6);
    const leaves = kept.filter((m) => m.kind === "leaf");
    const range = new CompactRange();
    for (const l of leaves) range.append(leafHash(l.value));
    let prev = leafHash((leaves[leaves.length - 1] as Msg).value).toString("hex");
    // The certificates are public: the attacker publishes them again.
    const forged: Msg[] = [...kept, ...b.messages.filter((m) => m.kind === "key-cert")];
    const rotate = parse(b.messages[indexOfLeaf(b.messages, 11)] as Msg);
    const epoch = rotate.epoch as number;
    const append = (body: Obj) => {
      const value = canonicalBytes({ ...body, seq: range.size, prev });
      forged.push({ kind: "leaf", type: String(body.type), key: b.origin, seq: range.size, value });
      range.append(leafHash(value));
      prev = leafHash(value).toString("hex");
    };
    append(rotate);
    for (let k = 0; k < 5; k++)
      append({ v: 1, origin: b.origin, epoch, type: "log", event: sampleEvent(100 + k) });
    const note = signNote(
      {
        origin: b.origin,
        size: range.size,
        root: range.root(),
        epoch,
        time: new Date(b.clock.now()).toISOString(),
      },
      [stolen],
    );
    forged.push({
      kind: "checkpoint",
      type: "checkpoint",
      key: b.origin,
      seq: range.size,
      value: canonicalBytes({ v: 1, type: "checkpoint", origin: b.origin, epoch, note }),
    });

    expect(codes(verify(forged, b.trustedKeys()))).toEqual(["SEALED_BY_LATER_KEY"]);
    expect(codes(verify(forged, b.trustedKeys(), { state: before.state }))).toContain(
      "INCONSISTENT_CHECKPOINT",
    );
  });

  it("9: every checkpoint stripped leaves the whole stream unsealed, an error", () => {
    const b = sealedStream();
    const r = verify(
      b.messages.filter((m) => m.kind === "leaf"),
      b.trustedKeys(),
    );
    expect(codes(r)).toEqual(["UNSEALED_TAIL"]);
    expect(r.ok).toBe(false);
    expect(r.streams[0]?.verified?.to).toBe(-1);
  });

  describe("10: checkpoint signatures", () => {
    const b = sealedStream();
    const i = indexOfCheckpoint(b.messages, 11);
    const withNote = (note: string) => {
      const msgs = [...b.messages];
      msgs[i] = remake(msgs[i] as Msg, { ...parse(msgs[i] as Msg), note });
      return msgs;
    };
    const note = parse(b.messages[i] as Msg).note as string;

    it("a corrupted signature is BAD_SIGNATURE", () => {
      const line = note.slice(note.indexOf("\n\n") + 2);
      const sig = line.trim().split(" ")[2] as string;
      const raw = Buffer.from(sig, "base64");
      raw[10] = (raw[10] as number) ^ 1;
      const r = verify(withNote(note.replace(sig, raw.toString("base64"))), b.trustedKeys());
      expect(codes(r)).toEqual(["BAD_SIGNATURE"]);
    });

    it("an extra signature by an unknown key is ignored", () => {
      const stranger = signNote(parseNote(note).checkpoint, [generateSigningKey()]);
      const extra = note + stranger.slice(stranger.indexOf("\n\n") + 2);
      const r = verify(withNote(extra), b.trustedKeys());
      expect(parseNote(extra).signatures).toHaveLength(2);
      expect(codes(r)).toEqual([]);
    });

    it("only unknown keys is UNKNOWN_KEY", () => {
      const r = verify(
        withNote(signNote(parseNote(note).checkpoint, [generateSigningKey()])),
        b.trustedKeys(),
      );
      expect(codes(r)).toEqual(["UNKNOWN_KEY"]);
    });
  });

  it("11: a key certified by a retired or not-yet-valid policy key is KEY_NOT_VALID", () => {
    const b = sealedStream();
    const pub = b.policyKey.publicKey.toString("base64");
    const retired = verify(b.messages, [
      { publicKey: pub, notAfter: new Date(T0 - 86_400_000).toISOString() },
    ]);
    const early = verify(b.messages, [
      { publicKey: pub, notBefore: new Date(T0 + 86_400_000).toISOString() },
    ]);
    for (const r of [retired, early]) {
      expect(codes(r)).toEqual(["KEY_NOT_VALID"]);
      expect(r.streams[0]?.verified?.to).toBe(-1);
    }
  });

  it("12: two checkpoints of the same size with different roots (a split view) are INCONSISTENT_CHECKPOINT", () => {
    const b = sealedStream();
    const key = b.epochKeys[0];
    if (!key) throw new Error("no key");
    const i = indexOfCheckpoint(b.messages, 21);
    const genuine = parse(b.messages[i] as Msg);
    // A second history of the same size: the genuine leaves up to 20, then another leaf 20.
    const forked = new CompactRange();
    for (const m of b.messages)
      if (m.kind === "leaf" && m.seq < 20) forked.append(leafHash(m.value));
    forked.append(leafHash(Buffer.from("another history")));
    const parsed = parseNote(genuine.note as string).checkpoint;
    const note = signNote({ ...parsed, root: forked.root() }, [key]);
    const split = remake(b.messages[i] as Msg, { ...genuine, note });
    const r = verify([...b.messages, split], b.trustedKeys());
    expect(codes(r)).toEqual(["INCONSISTENT_CHECKPOINT"]);
  });

  it("13: a record published under another stream's key is WRONG_ORIGIN", () => {
    const a = sealedStream();
    const other = new StreamBuilder({
      origin: "test/payments/api-1/api/var/log/app/access.log",
      policyKey: a.policyKey,
    });
    other.push(other.sealer.end("SIGTERM"));
    const moved = { ...(a.messages[indexOfLeaf(a.messages, 4)] as Msg), key: other.origin };
    const r = verify([...a.messages, ...other.messages, moved], a.trustedKeys());
    expect(codes(r)).toEqual(["WRONG_ORIGIN"]);
    expect(r.streams.find((s) => s.origin === other.origin)?.findings.map((f) => f.code)).toEqual([
      "WRONG_ORIGIN",
    ]);
  });

  describe("14: JCS variants of a record are NON_CANONICAL", () => {
    const b = new StreamBuilder({
      event: (i) => ({ ...sampleEvent(i), who: { actor: "renée" } }),
    }).logs(3);
    b.push(b.sealer.end("SIGTERM"));
    const i = indexOfLeaf(b.messages, 2);
    const text = (b.messages[i] as Msg).value.toString();
    const variants: Record<string, string> = {
      "other key order": text.replace(/^\{("epoch":\d+),(.*)\}$/, "{$2,$1}"),
      "1.0": text.replace('"v":1', '"v":1.0'),
      "\\u00e9 escaped": text.replace("renée", "ren\\u00e9e"),
      spaces: text.replace('"type":"log"', '"type": "log"'),
      "a duplicate key": text.replace('"type":"log"', '"type":"log","type":"log"'),
      "2^53+1": text.replace(/"offset":\d+/, '"offset":9007199254740993'),
    };
    for (const [name, variant] of Object.entries(variants)) {
      it(name, () => {
        expect(variant).not.toBe(text);
        const msgs = b.messages.map((m, j) =>
          j === i ? { ...m, value: Buffer.from(variant) } : m,
        );
        const r = verify(msgs, b.trustedKeys());
        const atPosition = r.streams[0]?.findings
          .filter((f) => f.position === `#${i}`)
          .map((f) => f.code);
        expect(atPosition).toEqual(["NON_CANONICAL"]);
        // The record is refused, so what it was part of no longer adds up.
        expect(codes(r)).toEqual(["BROKEN_CHAIN", "GAP", "NON_CANONICAL", "ROOT_MISMATCH"]);
      });
    }
  });

  it("15: a SIGTERM and a restart link epoch-end to epoch-start with no finding", () => {
    const b = new StreamBuilder().logs(12);
    b.push(b.sealer.end("SIGTERM"));
    b.restart(b.sealer.state()).logs(7);
    b.push(b.sealer.end("SIGTERM"));
    const r = verify(b.messages, b.trustedKeys());
    expect(codes(r)).toEqual([]);
    expect(r.streams[0]?.verified).toMatchObject({ from: 0, to: 22, unsealed: 0 });
  });

  it("16: a SIGKILL between checkpoints: the re-read records are ORPHANED and REPLAYED_SOURCE, nothing lost", () => {
    const b = new StreamBuilder().logs(25); // lines 0..24; sealed to leaf 20 (line 19)
    const saved: StreamState = b.sealer.state();
    expect(saved.range.size).toBe(21);
    b.restart(saved).rewind(20).logs(5); // killed: lines 20..24 read again in the next epoch
    b.push(b.sealer.end("SIGTERM"));
    const r = verify(b.messages, b.trustedKeys());
    expect(codes(r)).toEqual(["ORPHANED", "REPLAYED_SOURCE", "UNCLEAN_END"]);
    expect(r.ok).toBe(true);
    expect(r.streams[0]?.findings.find((f) => f.code === "ORPHANED")).toMatchObject({
      seq: [21, 25],
      count: 5,
    });
    expect(r.streams[0]?.verified).toMatchObject({ from: 0, to: 27, unsealed: 0 });
  });

  it("17: the sidecar's state volume wiped is EPOCH_UNLINKED, never silent", () => {
    const b = new StreamBuilder().logs(5);
    b.push(b.sealer.end("SIGTERM"));
    b.restart(null).logs(5);
    b.push(b.sealer.end("SIGTERM"));
    const r = verify(b.messages, b.trustedKeys());
    expect(codes(r)).toEqual(["EPOCH_UNLINKED"]);
    expect(r.ok).toBe(true);
  });

  it("18: a key-rotate record deleted is UNKNOWN_KEY and BROKEN_CHAIN on what follows", () => {
    const b = new StreamBuilder().logs(10);
    b.rotateKey().logs(10);
    b.push(b.sealer.end("SIGTERM"));
    const msgs = b.messages.filter((_, i) => i !== indexOfLeaf(b.messages, 11));
    const r = verify(msgs, b.trustedKeys());
    expect(codes(r)).toEqual(["BROKEN_CHAIN", "GAP", "ROOT_MISMATCH", "UNKNOWN_KEY"]);
    expect(r.streams[0]?.verified?.to).toBe(10);
    expect(r.streams[0]?.findings.find((f) => f.code === "BROKEN_CHAIN")?.seq).toEqual([12, 12]);
  });

  it("19: ten idle minutes with heartbeats is fine; heartbeats stopping while the pod runs is STALE", () => {
    const b = new StreamBuilder().logs(5);
    for (let s = 0; s < 600; s++) {
      b.clock.advance(1_000);
      b.push(b.sealer.tick());
    }
    const idle = verify(b.messages, b.trustedKeys(), { now: b.clock.now() });
    expect(codes(idle)).toEqual([]);
    // Sealed at 1 s (the pending lines), then a heartbeat every 30 s: 31 s, 61 s, ... 571 s.
    expect(b.messages.filter((m) => m.type === "heartbeat").length).toBe(19);

    b.clock.advance(10 * 60_000);
    const silent = verify(b.messages, b.trustedKeys(), { now: b.clock.now() });
    expect(codes(silent)).toEqual(["STALE"]);
  });

  it("20: retention removing the head is HEAD_TRUNCATED; verification goes on from the trusted anchor", () => {
    const b = new StreamBuilder().logs(20); // sealed to 21
    const first = verify(b.messages, b.trustedKeys());
    expect(codes(first)).toEqual([]);
    b.logs(20); // sealed to 41
    const cut = b.messages.slice(indexOfLeaf(b.messages, 15));
    // A week's retention, eight days on: the records lost were sealed before the horizon.
    const week = 7 * 86_400_000;
    const r = verify(cut, b.trustedKeys(), {
      state: first.state,
      retentionMs: week,
      asOf: T0 + 8 * 86_400_000,
    });
    expect(codes(r)).toEqual(["HEAD_TRUNCATED"]);
    expect(r.streams[0]?.verified).toMatchObject({ from: 21, to: 40, unsealed: 0 });
  });

  it("21: hostile but valid JSON is BAD_FORMAT, bounded", () => {
    const b = sealedStream();
    const hostile = [
      Buffer.from(`{"v":1,"raw":"${"x".repeat(2_000_000)}"}`),
      Buffer.from(`${"[".repeat(200_000)}${"]".repeat(200_000)}`),
      Buffer.from('{"type":"log","v":"\\ud800"}'),
    ].map((value, i) => ({
      kind: "leaf" as const,
      type: "log",
      key: b.origin,
      seq: 1_000 + i,
      value,
    }));
    const r = verify([...b.messages, ...hostile], b.trustedKeys());
    expect(codes(r)).toEqual(["BAD_FORMAT"]);
    expect(r.streams[0]?.findings.map((f) => f.message)).toEqual([
      expect.stringMatching(/more than 1048576/),
      expect.stringMatching(/deeper than/),
      expect.stringMatching(/lone surrogate/),
    ]);
  });

  it("21c: a flood of garbage is listed up to 1,000 findings per kind and counted past that", () => {
    const b = sealedStream();
    const flood = Array.from({ length: 3_500 }, (_, i) => ({
      kind: "leaf" as const,
      type: "log",
      key: b.origin,
      seq: 1_000 + i,
      value: Buffer.from(`not json ${i}`),
    }));
    const r = verify([...b.messages, ...flood], b.trustedKeys());
    expect(r.ok).toBe(false);
    const findings = r.streams[0]?.findings ?? [];
    expect(findings.filter((f) => f.code === "BAD_FORMAT" && f.position)).toHaveLength(1_000);
    expect(findings.find((f) => f.unlisted !== undefined)).toMatchObject({
      code: "BAD_FORMAT",
      level: "error",
      origin: b.origin,
      unlisted: 2_500,
      message: "2500 more BAD_FORMAT finding(s), not listed one by one (the first 1000 are)",
    });
    expect(r.counts.error).toBe(3_500);
    // The stream itself still verifies as far as it goes.
    expect(r.streams[0]?.verified).toMatchObject({ from: 0, to: 26, unsealed: 0 });
  });

  it("21b: a forged record with a huge seq is one GAP, not a walk over every seq before it", () => {
    // Not ended: in an ended epoch the record would be AFTER_END (row 27).
    const b = new StreamBuilder().logs(25);
    b.push(b.sealer.flush()); // leaves 0..25, sealed to 26
    const huge = 2 ** 50;
    const forged = remake(b.messages[indexOfLeaf(b.messages, 3)] as Msg, {
      ...parse(b.messages[indexOfLeaf(b.messages, 3)] as Msg),
      seq: huge,
    });
    const r = verify([...b.messages, forged], b.trustedKeys());
    expect(codes(r)).toEqual(["BROKEN_CHAIN", "GAP", "UNSEALED_TAIL"]);
    expect(r.streams[0]?.findings.find((f) => f.code === "GAP")).toMatchObject({
      seq: [26, huge - 1],
      count: huge - 26,
    });
    expect(r.streams[0]?.verified).toMatchObject({ from: 0, to: 25, unsealed: 1 });
  });

  it("22: a log file truncated or its inode reused: the sidecar's signed gap record is reported as GAP with its reason", () => {
    const b = new StreamBuilder().logs(5);
    b.push(
      b.sealer.appendGap({
        reason: "truncated",
        file: "/var/log/app/access.log",
        lostFrom: 500,
        lostTo: 900,
      }),
    );
    b.push(
      b.sealer.appendGap({
        reason: "inode-reused",
        file: "/var/log/app/access.log",
        lostFrom: 0,
        lostTo: 120,
      }),
    );
    b.logs(2);
    b.push(b.sealer.end("SIGTERM"));
    const r = verify(b.messages, b.trustedKeys());
    expect(codes(r)).toEqual(["GAP"]);
    expect(r.streams[0]?.findings.map((f) => f.message)).toEqual([
      expect.stringMatching(/500\.\.900 \(truncated\)/),
      expect.stringMatching(/0\.\.120 \(inode-reused\)/),
    ]);
  });
});
