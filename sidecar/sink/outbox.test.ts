import { describe, expect, it } from "vitest";
import { Backoff } from "../backoff.ts";
import { SidecarError } from "../errors.ts";
import { packed } from "./batch.ts";
import { Outbox } from "./outbox.ts";
import type { Sink, SinkAck, SinkBatch, SinkMessage } from "./sink.ts";

class RecordingSink implements Sink {
  readonly name = "recording";
  batches: number[][] = [];
  failNext = 0;
  async publish(input: SinkBatch): Promise<SinkAck> {
    await new Promise((r) => setTimeout(r, 2));
    if (this.failNext > 0) {
      this.failNext--;
      throw new SidecarError("unreachable", "down", { retriable: true });
    }
    const batch = packed(input);
    this.batches.push(batch.messages().map((m) => Number(m.value.toString())));
    return { where: "kafka", count: batch.count, bytes: 0 };
  }
  async close() {}
}

const m = (n: number): SinkMessage => ({
  key: "k",
  value: Buffer.from(String(n).padStart(9, "0")),
});

describe("outbox", () => {
  it("batches by count, acknowledges in order with each item's meta, retries rejected batches", async () => {
    const sink = new RecordingSink();
    sink.failNext = 2;
    const acked: number[] = [];
    const retries: number[] = [];
    const outbox = new Outbox<number>({
      sink,
      maxRecords: 100,
      maxBytes: 1_000_000,
      lingerMs: 5,
      highWaterBytes: 1_000_000,
      backoff: new Backoff({ initialMs: 1, maxMs: 5 }),
      onAck: (metas) => {
        acked.push(...metas);
      },
      onRetry: (_e, attempt) => retries.push(attempt),
    });
    for (let i = 0; i < 1_050; i++) outbox.add(m(i), i);
    await outbox.flush();
    expect(acked).toEqual(Array.from({ length: 1_050 }, (_, i) => i));
    expect(sink.batches.map((b) => b.length)).toEqual([...Array(10).fill(100), 50]);
    expect(retries).toEqual([1, 2]);
    expect(outbox.pendingBytes).toBe(0);
  });

  it("splits by bytes and sends a lingering partial batch after lingerMs", async () => {
    const sink = new RecordingSink();
    const outbox = new Outbox<number>({
      sink,
      maxRecords: 1_000,
      maxBytes: 100, // 10 messages of 10 bytes
      lingerMs: 20,
      highWaterBytes: 1_000_000,
      onAck: () => undefined,
    });
    for (let i = 0; i < 25; i++) outbox.add(m(i), i);
    await new Promise((r) => setTimeout(r, 60));
    expect(sink.batches.map((b) => b.length)).toEqual([10, 10, 5]);
  });

  it("asks the producer to pause above the high-water mark and to resume below half", async () => {
    const sink = new RecordingSink();
    const pressure: boolean[] = [];
    const outbox = new Outbox<number>({
      sink,
      maxRecords: 10,
      maxBytes: 1_000_000,
      lingerMs: 1,
      highWaterBytes: 500,
      onAck: () => undefined,
      onPressure: (p) => pressure.push(p),
    });
    for (let i = 0; i < 100; i++) outbox.add(m(i), i);
    expect(outbox.isPressured).toBe(true);
    await outbox.flush();
    expect(pressure).toEqual([true, false]);
  });

  it("group commit: while a batch is in flight the next one grows instead of lingering alone", async () => {
    const sink = new RecordingSink();
    const slow = sink.publish.bind(sink);
    sink.publish = async (batch) => {
      await new Promise((r) => setTimeout(r, 30));
      return slow(batch);
    };
    const acked: number[] = [];
    const outbox = new Outbox<number>({
      sink,
      maxRecords: 1_000,
      maxBytes: 1_000_000,
      lingerMs: 5,
      highWaterBytes: 1_000_000,
      onAck: (metas) => {
        acked.push(...metas);
      },
    });
    for (let i = 0; i < 120; i++) {
      outbox.add(m(i), i);
      await new Promise((r) => setTimeout(r, 1));
    }
    await outbox.flush();
    expect(acked).toEqual(Array.from({ length: 120 }, (_, i) => i));
    // One batch per ~30 ms send, not one per 5 ms linger.
    expect(sink.batches.length).toBeLessThanOrEqual(12);
    expect(sink.batches.flat()).toEqual(acked);
  });
});
