// Checkpoint validation, key validity at checkpoints and anchoring on their own.
import { describe, expect, it } from "vitest";
import { CompactRange, leafHash } from "../../merkle.ts";
import type { KeyCert } from "../../record.ts";
import { CertBook } from "../certs.ts";
import type { FindingCode, FindingWhere } from "../findings.ts";
import { SeqSlots } from "../leaves.ts";
import { StreamBuilder, streamFacts, T0 } from "../testing.ts";
import type { TrustedTree } from "../trust.ts";
import { policyKeyMap } from "../verifier.ts";
import { findAnchor } from "./anchor.ts";
import { type ValidCheckpoint, validCheckpoints } from "./checkpoints.ts";
import { EpochClosure } from "./closure.ts";
import { EpochKeys } from "./epoch-keys.ts";
import type { EpochInfo } from "./epochs.ts";
import { CheckpointSigners } from "./key-validity.ts";

function collect() {
  const found: ({ code: FindingCode; message: string } & FindingWhere)[] = [];
  return {
    found,
    codes: () => found.map((f) => f.code),
    report: (code: FindingCode, message: string, where: FindingWhere = {}) =>
      found.push({ code, message, ...where }),
  };
}

const where = { epoch: 1, position: "#9" };
const cert = (notBefore: number, notAfter: number) =>
  ({
    epoch: 1,
    notBefore: new Date(notBefore).toISOString(),
    notAfter: new Date(notAfter).toISOString(),
  }) as KeyCert;

describe("key validity at checkpoints", () => {
  const book = (certs: Record<string, KeyCert[]>) => ({
    certsFor: (keyId: string) => certs[keyId] ?? [],
    problemOf: () => ({ code: "UNCERTIFIED_KEY" as const, why: "no valid certificate" }),
  });

  it("counts a checkpoint signed inside a certificate window, give or take the skew", () => {
    const c = collect();
    const signers = new CheckpointSigners(book({ k: [cert(T0, T0 + 60_000)] }), () => false);
    const at = (ms: number) => new Date(ms).toISOString();
    expect(signers.counts("k", 1, 10, at(T0 + 1000), where, c.report)).toBe(true);
    expect(signers.counts("k", 1, 11, at(T0 + 60_000 + 119_000), where, c.report)).toBe(true);
    expect(signers.counts("k", 1, 12, at(T0 + 60_000 + 121_000), where, c.report)).toBe(false);
    expect(c.codes()).toEqual(["KEY_NOT_VALID"]);
  });

  it("refuses a key without a certificate once per key and epoch, however many it signed", () => {
    const c = collect();
    const signers = new CheckpointSigners(book({}), () => false);
    const time = new Date(T0).toISOString();
    for (const size of [10, 20, 30])
      expect(signers.counts("k", 1, size, time, where, c.report)).toBe(false);
    expect(signers.counts("k", 2, 40, time, where, c.report)).toBe(false);
    expect(c.found).toEqual([]);
    signers.report(c.report);
    expect(c.found).toMatchObject([
      { code: "UNCERTIFIED_KEY", count: 3, epoch: 1 },
      { code: "UNCERTIFIED_KEY", count: 1 },
    ]);
  });

  it("counts a key only the trusted state vouches for when its certificates are gone", () => {
    const c = collect();
    const signers = new CheckpointSigners(book({}), (keyId) => keyId === "k");
    expect(signers.counts("k", 1, 10, new Date(T0).toISOString(), where, c.report)).toBe(true);
    signers.report(c.report);
    expect(c.found).toEqual([]);
  });
});

/** A sealed stream's facts and everything checkpoint validation needs to judge them. */
function judged(b: StreamBuilder, asOf = b.clock.now()) {
  const facts = streamFacts(b.messages);
  const epoch = facts.leaves.epochAt(0);
  const info: EpochInfo = {
    epoch,
    startSeq: 0,
    tree: epoch,
    ended: false,
    endSeq: Number.POSITIVE_INFINITY,
  };
  const withKey = [0];
  const keys = new EpochKeys(undefined, facts.leaves, withKey);
  const c = collect();
  const certs = new CertBook(
    facts.origin,
    facts.certs,
    policyKeyMap(b.trustedKeys()),
    { asOf, stateUpdated: undefined, knownKeys: new Set() },
    c.report,
  );
  const result = validCheckpoints(
    facts.checkpoints,
    new Map([[epoch, info]]),
    {
      origin: facts.origin,
      asOf,
      publicKeys: keys.publicKeys(),
      signers: new CheckpointSigners(certs, (id) => keys.fromState(id)),
      closure: new EpochClosure(),
    },
    c.report,
  );
  return { ...c, ...result };
}

describe("checkpoint validation", () => {
  it("keeps every checkpoint of an untouched stream, by size", () => {
    const r = judged(new StreamBuilder().logs(25));
    expect(r.found).toEqual([]);
    expect(r.valid.map((c) => c.size)).toEqual([1, 11, 21]);
    expect(r.claimedTo).toBe(21);
  });

  it("counts none dated after the verifier's clock, reported as one FUTURE_DATED", () => {
    const r = judged(new StreamBuilder().logs(25), T0 - 10 * 60_000);
    expect(r.valid).toEqual([]);
    // The certificate is dated after the clock too (certs.ts says so); the checkpoints are one.
    const checkpoints = r.found.filter((f) => f.message.includes("checkpoint(s)"));
    expect(checkpoints).toMatchObject([{ code: "FUTURE_DATED", count: 3 }]);
    expect(r.claimedTo).toBe(21); // claimed, though not counted
  });

  it("refuses every checkpoint of a key whose certificate is not in the stream", () => {
    const r = judged(new StreamBuilder({ certs: "never" }).logs(25));
    expect(r.valid).toEqual([]);
    expect(r.found).toMatchObject([{ code: "UNCERTIFIED_KEY", count: 3 }]);
  });
});

describe("anchoring", () => {
  /** The compact range of n made-up leaves, as a message or the state spells it. */
  const rangeJson = (n: number) => {
    const r = new CompactRange();
    for (let k = 0; k < n; k++) r.append(leafHash(Buffer.from([k])));
    return r.toJSON();
  };
  const tree = (size: number): TrustedTree => ({
    genesis: 1,
    epoch: 1,
    size,
    root: "",
    range: rangeJson(size).hashes,
    checkpointTime: "",
    ended: false,
    keyId: "kS",
    keys: {},
  });
  const cp = (size: number, range = true) =>
    ({
      size,
      keyId: "kC",
      fact: { range: range ? rangeJson(size) : undefined },
    }) as unknown as ValidCheckpoint;
  /** Leaves placed at minSeq..maxSeq. */
  const placed = (minSeq: number, maxSeq: number) => {
    const slots = new SeqSlots(minSeq, maxSeq, maxSeq - minSeq + 1);
    for (let s = minSeq; s <= maxSeq; s++) slots.set(s, s);
    return { slots, minSeq, maxSeq };
  };

  it("starts from the empty tree when seq 0 is here, whatever else there is", () => {
    expect(findAnchor(placed(0, 30), tree(20), [cp(21)])).toMatchObject({ size: 0, why: "" });
  });

  it("starts from the trusted state when it reaches the first record left", () => {
    const a = findAnchor(placed(8, 30), tree(8), [cp(11)]);
    expect(a).toMatchObject({ size: 8, keyId: "kS" });
    expect(a?.range.toJSON()).toEqual(rangeJson(8));
  });

  it("else from the first checkpoint with a range whose size the records reach", () => {
    expect(
      findAnchor(placed(8, 30), tree(7), [cp(5), cp(11, false), cp(21), cp(31)]),
    ).toMatchObject({
      size: 21,
      keyId: "kC",
    });
    expect(findAnchor(placed(8, 30), undefined, [cp(32)])).toBeNull();
    expect(findAnchor(placed(8, 30), undefined, [cp(31)])?.size).toBe(31);
  });
});
