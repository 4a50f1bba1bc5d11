import { closeSync, mkdtempSync, openSync, readdirSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Backoff } from "../backoff.ts";
import { SidecarError } from "../errors.ts";
import { packed } from "../sink/batch.ts";
import type { Sink, SinkAck, SinkBatch, SinkMessage } from "../sink/sink.ts";
import { decodeFrame, encodeFrame } from "./frame.ts";
import { SpoolQueue } from "./queue.ts";
import { SpoolingSink } from "./spooling-sink.ts";

const msg = (n: number, size = 10): SinkMessage => ({
  key: `origin-${n % 3}`,
  value: Buffer.from(`${n}`.padEnd(size, ".")),
});
const batchOf = (from: number, count: number, size = 10) =>
  Array.from({ length: count }, (_, i) => msg(from + i, size));

/** A destination that is up or down on command and records what it accepted, in order. */
class SwitchableSink implements Sink {
  readonly name = "switchable";
  up = true;
  received: string[] = [];
  async publish(input: SinkBatch): Promise<SinkAck> {
    await new Promise((r) => setTimeout(r, 1));
    if (!this.up) throw new SidecarError("unreachable", "down", { retriable: true });
    const batch = packed(input);
    for (const m of batch.messages()) this.received.push(m.value.toString());
    return { where: "kafka", count: batch.count, bytes: 0 };
  }
  async close() {}
}

const fastBackoff = () => new Backoff({ initialMs: 5, maxMs: 20 });

describe("spool frames", () => {
  it("round-trip and reject any corruption", () => {
    const frame = encodeFrame(batchOf(0, 5));
    expect(decodeFrame(frame)?.map((m) => m.value.toString())).toEqual(
      batchOf(0, 5).map((m) => m.value.toString()),
    );
    for (const at of [0, 5, 9, frame.length - 1]) {
      const bad = Buffer.from(frame);
      bad[at] = (bad[at] as number) ^ 1;
      expect(decodeFrame(bad)).toBeUndefined();
    }
    expect(decodeFrame(frame.subarray(0, frame.length - 1))).toBeUndefined();
  });
});

describe("spool queue", () => {
  it("is first in, first out across segments and frees published segments", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ar-spool-"));
    const q = await SpoolQueue.open(dir, 4 * 1_048_576);
    for (let i = 0; i < 100; i++) expect(await q.append(batchOf(i * 10, 10, 2_000))).toBe(true);
    expect(readdirSync(dir).filter((n) => n.endsWith(".seg")).length).toBeGreaterThan(1);
    const seen: string[] = [];
    for (let f = await q.peek(); f; f = await q.peek()) {
      seen.push(...f.messages.map((m) => m.value.toString().split(".")[0] as string));
      await q.advance(f);
    }
    expect(seen).toEqual(Array.from({ length: 1_000 }, (_, i) => String(i)));
    expect(q.diskBytes).toBe(0);
    expect(readdirSync(dir).filter((n) => n.endsWith(".seg"))).toEqual([]);
    await q.close();
  });

  it("refuses appends past maxBytes instead of growing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ar-spool-"));
    const q = await SpoolQueue.open(dir, 1_048_576);
    let accepted = 0;
    while (await q.append(batchOf(0, 10, 10_000))) accepted++;
    expect(q.diskBytes).toBeLessThanOrEqual(1_048_576);
    expect(accepted).toBeGreaterThan(5);
    await q.close();
  });

  it("resumes after a restart at the first unpublished batch and cuts a torn frame", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ar-spool-"));
    const q1 = await SpoolQueue.open(dir, 1_048_576);
    for (let i = 0; i < 4; i++) await q1.append(batchOf(i * 10, 10));
    const first = await q1.peek();
    if (!first) throw new Error("expected a frame");
    await q1.advance(first);
    await q1.close();
    const seg = readdirSync(dir).find((n) => n.endsWith(".seg")) as string;
    const sizeBefore = statSync(join(dir, seg)).size;
    const fd = openSync(join(dir, seg), "a");
    writeSync(fd, Buffer.from([0, 0, 1, 0, 1, 2, 3])); // a crash in the middle of an append
    closeSync(fd);

    const q2 = await SpoolQueue.open(dir, 1_048_576);
    expect(statSync(join(dir, seg)).size).toBe(sizeBefore);
    const seen: string[] = [];
    for (let f = await q2.peek(); f; f = await q2.peek()) {
      seen.push(...f.messages.map((m) => m.value.toString().split(".")[0] as string));
      await q2.advance(f);
    }
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => String(i + 10)));
    await q2.close();
  });
});

describe("spooling sink", () => {
  it("spools while the sink is down and replays in order, then goes direct again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ar-spool-"));
    const inner = new SwitchableSink();
    const sink = new SpoolingSink(inner, await SpoolQueue.open(dir, 1_048_576), {
      backoff: fastBackoff(),
    });
    const wheres: string[] = [];
    for (let i = 0; i < 10; i++) {
      if (i === 3) inner.up = false;
      wheres.push((await sink.publish(batchOf(i * 10, 10))).where);
    }
    inner.up = true;
    for (let i = 10; i < 20; i++) wheres.push((await sink.publish(batchOf(i * 10, 10))).where);
    for (let i = 0; i < 200 && sink.status().mode !== "direct"; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(sink.status().mode).toBe("direct");
    expect(wheres.slice(0, 4)).toEqual(["kafka", "kafka", "kafka", "spool"]);
    expect(inner.received.map((v) => Number(v.split(".")[0]))).toEqual(
      Array.from({ length: 200 }, (_, i) => i),
    );
    await sink.close();
  });

  it("makes the publisher wait when the spool is full, and never drops", {
    timeout: 30_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "ar-spool-"));
    const inner = new SwitchableSink();
    inner.up = false;
    const fulls: boolean[] = [];
    const sink = new SpoolingSink(inner, await SpoolQueue.open(dir, 1_048_576), {
      backoff: fastBackoff(),
      observe: (o) => {
        if (o.type === "spool-full") fulls.push(o.full);
      },
    });
    let published = 0;
    const writer = (async () => {
      for (let i = 0; i < 300; i++) {
        await sink.publish(batchOf(i * 10, 10, 1_000));
        published++;
      }
    })();
    // Wait for the spool to fill (polled, not a fixed sleep: a busy machine fills it slower).
    for (let i = 0; i < 1_000 && !sink.status().full; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(published).toBeLessThan(300); // blocked: 300 batches of 10 kB do not fit 1 MiB
    expect(sink.status().full).toBe(true);
    inner.up = true;
    await writer;
    for (let i = 0; i < 1_000 && sink.status().mode !== "direct"; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(inner.received.map((v) => Number(v.split(".")[0]))).toEqual(
      Array.from({ length: 3_000 }, (_, i) => i),
    );
    expect(fulls[0]).toBe(true);
    expect(fulls.at(-1)).toBe(false);
    await sink.close();
  });
});
