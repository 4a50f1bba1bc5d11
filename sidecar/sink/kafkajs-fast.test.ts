import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { PackedBatch } from "./batch.ts";
import {
  type EncoderLike,
  KAFKAJS_VERSION,
  kafkajsFastPaths,
  kafkajsParts,
  packedMessages,
} from "./kafkajs-fast.ts";

const { stock, fast } = kafkajsParts();
const require = createRequire(import.meta.url);

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
        expect((fast.Record(r) as EncoderLike).buffer).toEqual(stock.Record(r).buffer);
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
      expect((fast.Record(r) as EncoderLike).buffer).toEqual(stock.Record(r).buffer);
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

  it("compute CRC-32C as kafkajs does, for any bytes and any alignment", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2_000 }), fc.nat(7), (bytes, skip) => {
        const b = Buffer.from(bytes).subarray(Math.min(skip, bytes.length));
        expect(fast.crc32C(b)).toBe(stock.crc32C(b));
      }),
      { numRuns: 2_000 },
    );
    expect(fast.crc32C(Buffer.from("123456789"))).toBe(0xe3069283); // the standard check value
  });

  it("send a packed batch as the same produce request bytes as one object per record", async () => {
    expect(kafkajsFastPaths).toBe("installed");
    // The produce request kafkajs builds (v3 is what v4-v7 use), with the installed fast paths.
    const request = require("kafkajs/src/protocol/requests/produce/v3/request.js") as (
      a: object,
    ) => { encode(): Promise<{ buffer: Buffer }> };
    const partitionOf = (key: string) => (key === "b" ? 1 : 0);
    const topicData = (messages: { key: string }[]) => {
      const grouped = fast.groupMessagesPerPartition({
        topic: "t",
        partitionMetadata: [{}, {}],
        messages,
        partitioner: ({ message }) => partitionOf(message.key),
      });
      return [
        {
          topic: "t",
          partitions: Object.keys(grouped).map((p) => ({
            partition: Number(p),
            firstSequence: 5,
            messages: grouped[p],
          })),
        },
      ];
    };
    const messages = fc.array(
      fc.record({
        key: fc.constantFrom("a", "b", "c/ü"),
        value: fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
      }),
      { minLength: 1, maxLength: 300 },
    );
    vi.spyOn(Date, "now").mockReturnValue(1_795_600_000_000);
    try {
      await fc.assert(
        fc.asyncProperty(messages, fc.constantFrom(0, 1), async (ms, compression) => {
          const args = { acks: -1, timeout: 30_000, compression, producerEpoch: 2 };
          const batch = PackedBatch.from(ms);
          const a = await request({
            ...args,
            topicData: topicData(packedMessages(batch)),
          }).encode();
          const b = await request({ ...args, topicData: topicData(ms) }).encode();
          expect(a.buffer).toEqual(b.buffer);
        }),
        { numRuns: 200 },
      );
    } finally {
      vi.restoreAllMocks();
    }
  });

  it("ask the partitioner once per packed run, and every time for other messages", () => {
    const batch = PackedBatch.from(
      ["a", "a", "a", "b", "b", "a"].map((key) => ({ key, value: Buffer.from(key) })),
    );
    let calls = 0;
    const partitioner = () => calls++ % 2;
    const grouped = fast.groupMessagesPerPartition({
      topic: "t",
      partitionMetadata: [{}, {}],
      messages: packedMessages(batch),
      partitioner,
    });
    expect(calls).toBe(3);
    expect(Object.values(grouped).map((l) => l.map((m) => m.key).join(""))).toEqual(["aaaa", "bb"]);
    calls = 0;
    fast.groupMessagesPerPartition({
      topic: "t",
      partitionMetadata: [{}, {}],
      messages: batch.messages(),
      partitioner,
    });
    expect(calls).toBe(6);
  });

  it("refuse a packed run whose records were split up", async () => {
    const batch = PackedBatch.from(["a", "a"].map((key) => ({ key, value: Buffer.from(key) })));
    const [m] = packedMessages(batch);
    const record = fast.Record({ ...m, offsetDelta: 0, timestampDelta: 0 });
    await expect(fast.RecordBatch({ records: [record] })).rejects.toThrow(/split/);
    expect(() => fast.Record({ ...m, offsetDelta: 0, timestampDelta: 3 })).toThrow(/timestamp/);
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
