// The witness rule on real sealed streams: what a witness cosigned is held against the topic.
import { describe, expect, it } from "vitest";
import { parseNote } from "../../checkpoint.ts";
import type { Emitted } from "../../seal.ts";
import type { Witnessed } from "../../witness.ts";
import { findingCodes, StreamBuilder, splitView, T0, verifyMessages } from "../testing.ts";

const DAY = 86_400_000;

/** What a witness that saw `messages` cosigned: their last checkpoint. */
function cosigned(messages: readonly Emitted[]): Witnessed {
  const last = messages.filter((m) => m.kind === "checkpoint").at(-1) as Emitted;
  const c = parseNote((JSON.parse(last.value.toString()) as { note: string }).note).checkpoint;
  return {
    epoch: c.epoch,
    size: c.size,
    root: c.root.toString("base64"),
    checkpointTime: c.time,
    cosignedAt: new Date(T0 + 60_000).toISOString(),
    witness: "w",
  };
}

describe("the witness rule", () => {
  const b = new StreamBuilder().logs(100);
  const w = cosigned(b.messages);
  const witnessed = new Map([[b.origin, [w]]]);
  const asOf = T0 + DAY;

  it("passes a topic that still holds what was cosigned", () => {
    const r = verifyMessages(b.messages, b.trustedKeys(), { witnessed, asOf });
    expect(findingCodes(r)).toEqual([]);
    expect(w.size).toBe(101);
  });

  it("a tail dropped at a checkpoint is a GAP naming the cosigned size; without it, unseen", () => {
    const cut = b.messages.findIndex((m) => m.kind === "checkpoint" && m.seq === 51);
    const kept = b.messages.slice(0, cut + 1);
    expect(findingCodes(verifyMessages(kept, b.trustedKeys(), { asOf }))).toEqual([]);
    const r = verifyMessages(kept, b.trustedKeys(), { witnessed, asOf });
    expect(r.ok).toBe(false);
    expect(r.streams[0]?.findings.map((f) => [f.code, f.seq, f.message])).toEqual([
      [
        "GAP",
        [51, 100],
        `the witness w cosigned size 101 of epoch ${w.epoch} (checkpoint of ${w.checkpointTime}) at ${w.cosignedAt}; the topic holds only up to size 51`,
      ],
    ]);
  });

  it("another history signed by the real epoch key: INCONSISTENT_CHECKPOINT, and only with the witness", () => {
    const fork = splitView(b, T0, 60, 100);
    expect(fork.filter((m) => m.kind === "checkpoint").at(-1)?.seq).toBe(101);
    expect(findingCodes(verifyMessages(fork, b.trustedKeys(), { asOf }))).toEqual([]);
    const r = verifyMessages(fork, b.trustedKeys(), { witnessed, asOf });
    expect(findingCodes(r)).toEqual(["INCONSISTENT_CHECKPOINT"]);
    expect(r.streams[0]?.findings[0]?.message).toMatch(/split view/);
  });

  it("a stream the witness cosigned and the topic lost entirely: GAP naming it", () => {
    const other = new StreamBuilder({ origin: "test/payments/api-1/api/x.log" }).logs(5);
    const r = verifyMessages(other.messages, other.trustedKeys(), { witnessed, asOf });
    expect(r.ok).toBe(false);
    expect(r.unplaced.map((f) => [f.code, f.origin])).toEqual([["GAP", b.origin]]);
    expect(r.unplaced[0]?.message).toMatch(
      new RegExp(
        `^stream ${b.origin} has no records in the topic, but the witness w cosigned size 101`,
      ),
    );
    // Unless retention explains it.
    const old = verifyMessages(other.messages, other.trustedKeys(), {
      witnessed,
      asOf,
      retentionMs: DAY / 2,
    });
    expect(old.unplaced.map((f) => f.code)).toEqual(["HEAD_TRUNCATED"]);
  });

  it("an epoch cosigned and gone from a stream that goes on: GAP for that epoch", () => {
    const r = verifyMessages(b.messages, b.trustedKeys(), {
      witnessed: new Map([[b.origin, [w, { ...w, epoch: w.epoch + 5 }]]]),
      asOf,
    });
    expect(r.streams[0]?.findings.map((f) => [f.code, f.epoch])).toEqual([["GAP", w.epoch + 5]]);
  });
});
