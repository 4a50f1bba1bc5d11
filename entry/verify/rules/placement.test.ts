// Placement and epoch closure on their own: which leaf holds each seq, given the tree's epochs.
import { describe, expect, it } from "vitest";
import type { Emitted } from "../../seal.ts";
import type { Finding, FindingCode, FindingWhere } from "../findings.ts";
import { StreamBuilder, streamFacts } from "../testing.ts";
import { EpochClosure } from "./closure.ts";
import type { EpochInfo } from "./epochs.ts";
import { placeLeaves } from "./placement.ts";

type Found = Pick<Finding, "code" | "message"> & FindingWhere;

function collect() {
  const found: Found[] = [];
  return {
    found,
    codes: () => found.map((f) => f.code),
    report: (code: FindingCode, message: string, where: FindingWhere = {}) =>
      found.push({ code, message, ...where }),
  };
}

/** 12 log lines after the epoch-start: leaves 0..12 of one epoch. */
function leafMessages(): Emitted[] {
  return new StreamBuilder().logs(12).messages.filter((m) => m.kind === "leaf");
}

function place(
  msgs: readonly Emitted[],
  epoch: Partial<EpochInfo> = {},
  nextStart = Number.POSITIVE_INFINITY,
) {
  const facts = streamFacts(msgs);
  const id = facts.leaves.epochAt(0);
  const info: EpochInfo = {
    epoch: id,
    startSeq: 0,
    tree: id,
    ended: false,
    endSeq: Number.POSITIVE_INFINITY,
    ...epoch,
  };
  const c = collect();
  const p = placeLeaves(
    facts.leaves,
    new Map([[id, info]]),
    new Map([[id, nextStart]]),
    new EpochClosure(),
    c.report,
  );
  return { ...c, p, leaves: facts.leaves };
}

describe("placement", () => {
  it("places every leaf of an untouched epoch at its seq, with no finding", () => {
    const { p, found } = place(leafMessages());
    expect(found).toEqual([]);
    expect([p.placed, p.minSeq, p.maxSeq]).toEqual([13, 0, 12]);
    expect([...p.slots.seqsFrom(0)]).toEqual([...Array(13).keys()]);
    expect(p.withKey).toEqual([0]); // the epoch-start introduces the key
  });

  it("counts the same bytes twice as one DUPLICATE finding; the first arrival holds the seq", () => {
    const msgs = leafMessages();
    const { p, found, leaves } = place([...msgs, msgs[3] as Emitted, msgs[4] as Emitted]);
    expect(found).toMatchObject([{ code: "DUPLICATE", count: 2 }]);
    expect(p.slots.get(3)).toBe(3);
    expect(leaves.length).toBe(15);
  });

  it("counts seqs that arrive after a later one as REORDER", () => {
    const msgs = leafMessages();
    const swapped = [...msgs];
    [swapped[5], swapped[8]] = [msgs[8] as Emitted, msgs[5] as Emitted];
    const { p, found } = place(swapped);
    expect(found).toMatchObject([{ code: "REORDER", count: 3 }]);
    expect(p.placed).toBe(13);
  });

  it("reports a leaf before its epoch's start as a CONFLICT and does not place it", () => {
    const { p, found } = place(leafMessages(), { startSeq: 3 });
    expect(found).toEqual([]); // without an epoch-start there is nothing to be before
    expect(p.placed).toBe(13);
    const facts = streamFacts(leafMessages());
    const start = facts.leaves.fact(0);
    const late = place(leafMessages(), { start, startSeq: 3 });
    expect(late.codes()).toEqual(["CONFLICT", "CONFLICT", "CONFLICT"]);
    expect(late.p.minSeq).toBe(3);
  });

  it("sets aside leaves at or past the next epoch's start as orphaned", () => {
    const { p, found } = place(leafMessages(), {}, 10);
    expect(found).toEqual([]);
    expect(p.orphaned).toEqual([10, 11, 12]);
    expect(p.maxSeq).toBe(9);
  });

  it("reports leaves past the epoch's end as one AFTER_END, before the superseded check", () => {
    const { p, found } = place(leafMessages(), { endSeq: 9 }, 8);
    expect(found).toMatchObject([{ code: "AFTER_END", seq: [10, 12], count: 3 }]);
    expect(p.orphaned).toEqual([8, 9]);
  });

  it("reports no seq at all as minSeq 0, maxSeq -1", () => {
    const { p } = place(leafMessages(), {}, 0);
    expect([p.placed, p.minSeq, p.maxSeq]).toEqual([0, 0, -1]);
  });
});

describe("epoch closure", () => {
  it("lets a checkpoint seal the epoch-end itself, and nothing past it", () => {
    const closure = new EpochClosure();
    const where = { epoch: 1, position: "#3" };
    expect(closure.checkpointAfterEnd(10, 9, where)).toBe(false);
    expect(closure.checkpointAfterEnd(11, 9, where)).toBe(true);
    expect(closure.checkpointAfterEnd(15, 9, where)).toBe(true);
    expect(closure.checkpointAfterEnd(12, Number.POSITIVE_INFINITY, where)).toBe(false);
    const c = collect();
    closure.reportCheckpoints(c.report);
    closure.reportRecords(c.report);
    expect(c.found).toEqual([
      {
        code: "AFTER_END",
        message: "2 checkpoint(s) at sizes 11..15 seal past their epoch's epoch-end",
        epoch: 1,
        position: "#3",
        count: 2,
      },
    ]);
  });
});
