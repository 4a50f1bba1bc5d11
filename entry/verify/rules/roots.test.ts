// Checkpoints against the rebuilt tree, consistency with the trusted state and the unsealed
// tail, on their own.
import { describe, expect, it } from "vitest";
import { type Digest, toDigest } from "../../merkle.ts";
import type { FindingCode, FindingWhere } from "../findings.ts";
import { SeqSlots } from "../leaves.ts";
import type { TrustedTree } from "../trust.ts";
import type { ValidCheckpoint } from "./checkpoints.ts";
import { extendsTrusted, nextTrusted } from "./consistency.ts";
import { matchRoots, type RebuiltTree } from "./roots.ts";
import { unsealedTail } from "./unsealed.ts";

function collect() {
  const found: ({ code: FindingCode; message: string } & FindingWhere)[] = [];
  return {
    found,
    codes: () => found.map((f) => f.code),
    report: (code: FindingCode, message: string, where: FindingWhere = {}) =>
      found.push({ code, message, ...where }),
  };
}

const root = (n: number): Digest => toDigest(Buffer.alloc(32, n));
const cp = (size: number, r: Digest, time = `2026-11-23T10:00:${String(size).padStart(2, "0")}Z`) =>
  ({
    size,
    root: r,
    keyId: "k",
    time,
    epoch: 1,
    fact: { position: `@${size}` },
  }) as ValidCheckpoint;

/** A tree rebuilt to size 30 whose root at each size n is root(n), and one key owning it. */
function rebuilt(checkpoints: readonly ValidCheckpoint[], over: Partial<RebuiltTree> = {}) {
  const signedRoots = new Map<number, Set<Digest>>();
  for (const c of checkpoints)
    signedRoots.set(c.size, (signedRoots.get(c.size) ?? new Set()).add(c.root));
  const tree: RebuiltTree = {
    base: 0,
    baseRoot: root(0),
    roots: new Map([0, 10, 20, 30].map((n) => [n, root(n)] as const)),
    signedRoots,
    nextStart: new Map(),
    firstStranger: Number.POSITIVE_INFINITY,
    ...over,
  };
  const c = collect();
  const ownership = { owner: new Int32Array(30).fill(1), keyIds: ["", "k"], orderOf: () => 0 };
  return { ...c, ...matchRoots(checkpoints, tree, ownership, c.report) };
}

describe("checkpoints against the rebuilt tree", () => {
  it("covers up to the largest matching checkpoint", () => {
    const r = rebuilt([cp(10, root(10)), cp(20, root(20))]);
    expect(r.found).toEqual([]);
    expect([r.covered, r.coveredRoot, r.matched.length]).toEqual([20, root(20), 2]);
  });

  it("reports every mismatching checkpoint as one ROOT_MISMATCH", () => {
    const r = rebuilt([cp(10, root(10)), cp(20, root(99)), cp(30, root(98))]);
    expect(r.found).toMatchObject([
      {
        code: "ROOT_MISMATCH",
        count: 2,
        message: "2 checkpoints at sizes 20..30 do not match the records",
      },
    ]);
    expect(r.covered).toBe(10);
  });

  it("calls two signed roots at one size a split view, and a checkpoint past the next epoch a fork", () => {
    const split = rebuilt([cp(10, root(10)), cp(10, root(77))]);
    expect(split.codes()).toEqual(["INCONSISTENT_CHECKPOINT"]);
    expect(split.covered).toBe(10);
    const fork = rebuilt([cp(20, root(55))], { nextStart: new Map([[1, 15]]) });
    expect(fork.found[0]?.message).toContain("forks from the tree the next epoch continued");
  });

  it("flags a checkpoint of an epoch dated before the one before it", () => {
    const r = rebuilt([
      cp(10, root(10), "2026-11-23T10:05:00Z"),
      cp(20, root(20), "2026-11-23T10:01:00Z"),
    ]);
    expect(r.codes()).toEqual(["CLOCK_ANOMALY"]);
  });

  it("counts nothing past the first record naming another pod", () => {
    const r = rebuilt([cp(10, root(10)), cp(20, root(20))], { firstStranger: 15 });
    expect(r.covered).toBe(10);
    expect(r.matched.length).toBe(2);
  });

  it("reports records first sealed by a key that did not own them", () => {
    const c = collect();
    const ownership = { owner: new Int32Array(10).fill(1), keyIds: ["", "old"], orderOf: () => 0 };
    matchRoots(
      [cp(10, root(10))],
      {
        base: 0,
        baseRoot: root(0),
        roots: new Map([[10, root(10)]]),
        signedRoots: new Map(),
        nextStart: new Map(),
        firstStranger: Number.POSITIVE_INFINITY,
      },
      ownership,
      c.report,
    );
    expect(c.found).toMatchObject([{ code: "KEY_NOT_VALID", seq: [0, 9], count: 10 }]);
  });
});

describe("consistency with the trusted state", () => {
  const state = (size: number, r: Digest): TrustedTree => ({
    genesis: 1,
    epoch: 1,
    size,
    root: Buffer.from(r, "latin1").toString("base64"),
    range: [],
    checkpointTime: "",
    ended: false,
    keyId: "",
    keys: {},
  });
  const roots = new Map([[20, root(20)]]);

  it("is linked when the rebuilt tree has the state's root at the state's size", () => {
    const c = collect();
    expect(extendsTrusted(state(20, root(20)), 0, true, roots, 30, c.report)).toBe(true);
    expect(extendsTrusted(undefined, 0, false, roots, 30, c.report)).toBe(true);
    expect(c.found).toEqual([]);
  });

  it("is an INCONSISTENT_CHECKPOINT when the tree differs or the store ends before it", () => {
    const c = collect();
    expect(extendsTrusted(state(20, root(21)), 0, true, roots, 30, c.report)).toBe(false);
    expect(extendsTrusted(state(40, root(40)), 0, true, roots, 30, c.report)).toBe(false);
    expect(c.codes()).toEqual(["INCONSISTENT_CHECKPOINT", "INCONSISTENT_CHECKPOINT"]);
    expect(c.found[1]?.message).toContain("the store ends at size 31");
  });

  it("past an anchor beyond the state, links only when retention excused the head", () => {
    const c = collect();
    expect(extendsTrusted(state(5, root(5)), 10, true, roots, 30, c.report)).toBe(true);
    expect(extendsTrusted(state(5, root(5)), 10, false, roots, 30, c.report)).toBe(false);
    expect(c.found).toEqual([]);
  });

  it("keeps the state's tree unless the new one extends it and verifies as much", () => {
    const old = state(20, root(20));
    const bigger = state(30, root(30));
    expect(nextTrusted(old, true, bigger)).toBe(bigger);
    expect(nextTrusted(old, false, bigger)).toBe(old);
    expect(nextTrusted(old, true, state(10, root(10)))).toBe(old);
    expect(nextTrusted(old, true, undefined)).toBe(old);
    expect(nextTrusted(undefined, true, bigger)).toBe(bigger);
  });
});

describe("the unsealed tail", () => {
  const slots = new SeqSlots(0, 29, 30);
  for (let s = 0; s < 30; s++) slots.set(s, s);
  const where = { origin: "o", epoch: 1 };

  it("is a warning naming the records past what is signed", () => {
    const { unsealed, finding } = unsealedTail(slots, 21, 30, false, where);
    expect(unsealed).toBe(9);
    expect(finding).toMatchObject({
      code: "UNSEALED_TAIL",
      level: "warning",
      seq: [21, 29],
      count: 9,
    });
  });

  it("is an error when nothing of the stream is sealed, and nothing when all is", () => {
    expect(unsealedTail(slots, 0, 30, true, where).finding).toMatchObject({ level: "error" });
    expect(unsealedTail(slots, 30, 30, false, where)).toEqual({ unsealed: 0, finding: null });
  });
});
