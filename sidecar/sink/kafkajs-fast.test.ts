import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KAFKAJS_VERSION, kafkajsParts } from "./kafkajs-fast.ts";

const { stock, fast } = kafkajsParts();

describe("kafkajs fast paths", () => {
  it("are built for the kafkajs version in use", () => {
    expect(KAFKAJS_VERSION).toBe("2.2.4");
    expect(fast.Record).not.toBe(stock.Record);
    expect(fast.RecordBatch).not.toBe(stock.RecordBatch);
  });

  it("encode a record to the same bytes as kafkajs", () => {
    const bytes = fc.oneof(
      fc.constant(null),
      fc.string({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 3_000 }).map((a) => Buffer.from(a)),
    );
    const int = fc.oneof(fc.integer({ min: -1_000, max: 1_000 }), fc.integer());
    fc.assert(
      fc.property(bytes, bytes, int, int, (key, value, offsetDelta, timestampDelta) => {
        const r = { key, value, offsetDelta, timestampDelta };
        expect(fast.Record(r).buffer).toEqual(stock.Record(r).buffer);
      }),
      { numRuns: 2_000 },
    );
  });

  it("falls back to kafkajs for headers and 64-bit timestamps", () => {
    for (const r of [
      { key: "k", value: "v", headers: { a: "1", b: ["2", "3"] } },
      { key: "k", value: "v", timestampDelta: 2 ** 40 },
      { key: "k", value: "v", timestampDelta: -(2 ** 35) },
    ]) {
      expect(fast.Record(r).buffer).toEqual(stock.Record(r).buffer);
    }
  });

  it("encode a record batch to the same bytes as kafkajs, compressed or not", async () => {
    const records = Array.from({ length: 500 }, (_, i) =>
      stock.Record({ key: "origin", value: Buffer.from(`{"seq":${i}}`), offsetDelta: i }),
    );
    for (const compression of [0, 1]) {
      for (const rs of [records, records.slice(0, 1), []]) {
        const args = {
          compression,
          firstTimestamp: 1_795_600_000_000,
          maxTimestamp: 1_795_600_000_123,
          producerEpoch: 3,
          firstSequence: 77,
          lastOffsetDelta: rs.length - 1,
          records: rs,
        };
        const a = await fast.RecordBatch(args);
        const b = await stock.RecordBatch(args);
        expect(a.buffer).toEqual(b.buffer);
        // Records that are written straight into the batch, with a stock one among them.
        const mixed = rs.map((_, i) =>
          i === 1
            ? stock.Record({ key: "origin", value: Buffer.from(`{"seq":${i}}`), offsetDelta: i })
            : fast.Record({ key: "origin", value: Buffer.from(`{"seq":${i}}`), offsetDelta: i }),
        );
        const c = await fast.RecordBatch({ ...args, records: mixed });
        expect(c.buffer).toEqual(b.buffer);
      }
    }
  });

  it("group messages per partition as kafkajs does", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(5), { maxLength: 200 }), (partitions) => {
        const messages = partitions.map((p, i) => ({ p, i }));
        const args = {
          topic: "t",
          partitionMetadata: [{}, {}, {}, {}, {}, {}],
          messages,
          partitioner: ({ message }: { message: { p: number } }) => message.p,
        };
        expect(fast.groupMessagesPerPartition(args)).toEqual(stock.groupMessagesPerPartition(args));
      }),
    );
    const none = { topic: "t", partitionMetadata: [], messages: [1], partitioner: () => 0 };
    expect(fast.groupMessagesPerPartition(none)).toEqual({});
  });

  it("are installed when the sink module loads before kafkajs", () => {
    const sink = resolve(import.meta.dirname, "kafka.ts");
    const script = `const m = await import(${JSON.stringify(sink)});
      const f = await import(${JSON.stringify(resolve(import.meta.dirname, "kafkajs-fast.ts"))});
      console.log(f.kafkajsFastPaths, typeof m.KafkaSink);`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    expect(out.trim()).toBe("installed function");
  });
});
