// The sealer's direct writers must give exactly the canonical bytes of the same message, and
// the state it hands out must be what a checkpoint sealed.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalBytes } from "./canonical.ts";
import { parseNote } from "./checkpoint.ts";
import { generateSigningKey } from "./keys.ts";
import { CompactRange, leafHash } from "./merkle.ts";
import type { CheckpointMessage } from "./record.ts";
import { checkpointBytes, StreamSealer } from "./seal.ts";
import { sampleEvent } from "./verify/testing.ts";

/** The checkpoint message as an object, the form canonicalBytes is given. */
function checkpointMessage(
  origin: string,
  epoch: number,
  note: string,
  range?: CompactRange,
): CheckpointMessage {
  return {
    v: 1,
    type: "checkpoint",
    origin,
    epoch,
    note,
    ...(range ? { range: range.toJSON() } : {}),
  };
}

describe("checkpointBytes", () => {
  it("equals canonicalBytes of the message, with and without a range", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.nat(),
        fc.string(),
        fc.option(fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 40 })),
        (origin, epoch, note, leaves) => {
          let range: CompactRange | undefined;
          if (leaves) {
            range = new CompactRange();
            for (const l of leaves) range.append(leafHash(l));
          }
          expect(checkpointBytes(origin, epoch, note, range).toString()).toBe(
            canonicalBytes(checkpointMessage(origin, epoch, note, range)).toString(),
          );
        },
      ),
    );
  });
});

describe("StreamSealer.state", () => {
  it("is the tree of the last checkpoint, not of leaves appended since", () => {
    let t = 1_795_428_000_000;
    const { sealer } = StreamSealer.open(
      {
        origin: "c/ns/pod/app/access.log",
        key: generateSigningKey(),
        seal: { entries: 3, millis: 1e9, heartbeatMs: 1e9 },
        now: () => t++,
      },
      null,
    );
    for (let i = 0; i < 3; i++) sealer.appendLog(sampleEvent(i));
    const sealed = sealer.state();
    expect(sealed.range.size).toBe(4);
    expect(parseNote(sealed.checkpoint).checkpoint.size).toBe(4);
    sealer.appendLog(sampleEvent(4));
    expect(sealer.state()).toEqual(sealed);
    const again = StreamSealer.open(
      {
        origin: "c/ns/pod/app/access.log",
        key: generateSigningKey(),
        seal: { entries: 3, millis: 1e9, heartbeatMs: 1e9 },
        now: () => t++,
      },
      sealed,
    );
    // The next epoch continues the tree: its epoch-start is leaf 4, sealed at once.
    expect(again.sealer.size).toBe(5);
    expect(again.sealer.state().epoch).toBe(sealed.epoch + 1);
    expect(again.sealer.state().range.size).toBe(5);
    expect(parseNote(again.sealer.state().checkpoint).checkpoint.size).toBe(5);
  });
});

describe("checkpoint times", () => {
  it("are the ISO time of the clock, milliseconds included, across seconds", async () => {
    const { parseNote } = await import("./checkpoint.ts");
    const times = [1_795_428_000_000, 1_795_428_000_007, 1_795_428_000_999, 1_795_428_001_010, 0];
    let i = 0;
    const { sealer, out } = StreamSealer.open(
      {
        origin: "c/ns/pod/app/access.log",
        key: generateSigningKey(),
        seal: { entries: 1, millis: 1e9, heartbeatMs: 1e9 },
        now: () => times[Math.min(i, times.length - 1)] as number,
      },
      null,
    );
    const seen = [parseNote(JSON.parse(out[1]?.value.toString() ?? "").note).checkpoint.time];
    for (i = 1; i < times.length; i++) {
      const cp = sealer.appendLog(sampleEvent(i)).find((e) => e.kind === "checkpoint");
      seen.push(parseNote(JSON.parse(cp?.value.toString() ?? "").note).checkpoint.time);
    }
    expect(seen).toEqual(times.map((t) => new Date(t).toISOString()));
  });
});
