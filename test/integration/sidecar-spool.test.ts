// The disk spool with the real Kafka sink and a broker of the test's own that is stopped and
// started again on the same port and data: while it is away batches are acknowledged from the
// spool, when it is back they are replayed in order before anything new; an outage longer than
// the spool turns into backpressure (the publisher waits) and nothing is dropped.
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Backoff } from "../../sidecar/backoff.ts";
import { KafkaSink } from "../../sidecar/sink/kafka.ts";
import type { SinkMessage } from "../../sidecar/sink/sink.ts";
import { SpoolQueue } from "../../sidecar/spool/queue.ts";
import { SpoolingSink, type SpoolObservation } from "../../sidecar/spool/spooling-sink.ts";
import { endpoint } from "../infra/endpoints.ts";
import { type KafkaBroker, startKafka } from "../infra/kafka.ts";

let broker: KafkaBroker;

beforeAll(async () => {
  broker = await startKafka({ libs: endpoint("kafkaLibs"), heapMb: 384 });
}, 120_000);
afterAll(() => broker?.stop());

async function restart(): Promise<void> {
  broker = await startKafka({
    libs: endpoint("kafkaLibs"),
    heapMb: 384,
    workDir: broker.workDir,
    ports: broker.ports,
  });
}

function kafka() {
  return new Kafka({
    clientId: "spool-test",
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
  });
}

async function newTopic(): Promise<string> {
  const topic = `spool-${randomUUID()}`;
  const admin = kafka().admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  await admin.disconnect();
  return topic;
}

async function consumeSeqs(topic: string, expected: number): Promise<Map<string, number[]>> {
  const consumer = kafka().consumer({ groupId: `g-${randomUUID()}` });
  const seen = new Map<string, number[]>();
  let total = 0;
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        const key = message.key?.toString() ?? "";
        const list = seen.get(key) ?? [];
        list.push(JSON.parse(message.value?.toString() ?? "{}").seq);
        seen.set(key, list);
        if (++total >= expected) resolve();
      },
    });
  });
  await new Promise((r) => setTimeout(r, 500)); // anything beyond `expected` would show up now
  await consumer.disconnect();
  return seen;
}

function sinkFor(topic: string, maxBytes: number, observe: (o: SpoolObservation) => void) {
  const dir = mkdtempSync(join(tmpdir(), "ar-spool-it-"));
  const inner = new KafkaSink(
    {
      brokers: [broker.bootstrap],
      topic,
      clientId: "spool-test",
      compression: "gzip",
      batch: { maxRecords: 2_000, maxBytes: 1_048_576, lingerMs: 20 },
    },
    { retryMs: 500, connectionTimeoutMs: 1_000, requestTimeoutMs: 3_000 },
  );
  return SpoolQueue.open(dir, maxBytes).then(
    (q) =>
      new SpoolingSink(inner, q, {
        backoff: new Backoff({ initialMs: 100, maxMs: 1_000 }),
        observe,
      }),
  );
}

const ORIGINS = ["c/ns/a/app/access.log", "c/ns/b/app/access.log"];
const batchFrom = (from: number, size: number, pad: string): SinkMessage[] =>
  Array.from({ length: size }, (_, i) => ({
    key: ORIGINS[(from + i) % 2] as string,
    value: Buffer.from(JSON.stringify({ seq: from + i, pad })),
  }));

function expectEverySeqOnceInOrder(seen: Map<string, number[]>, total: number): void {
  for (const [i, origin] of ORIGINS.entries()) {
    const want = Array.from({ length: total / 2 }, (_, k) => 2 * k + i);
    expect(seen.get(origin), origin).toEqual(want);
  }
}

describe("sidecar spool with a broker that goes away", () => {
  it("acknowledges from the spool during two outages and replays in order after each", async () => {
    const topic = await newTopic();
    const where = new Map<string, number>();
    const sink = await sinkFor(topic, 64 * 1_048_576, () => undefined);
    const total = 30_000;
    const perBatch = 200;
    let sent = 0;
    const publishUntil = async (limit: number) => {
      for (; sent < limit; sent += perBatch) {
        const ack = await sink.publish(batchFrom(sent, perBatch, "x".repeat(100)));
        where.set(ack.where, (where.get(ack.where) ?? 0) + ack.count);
      }
    };
    for (let outage = 0; outage < 2; outage++) {
      await publishUntil(sent + 5_000);
      const stopping = broker.stop();
      await publishUntil(sent + 5_000); // while the broker shuts down and is away
      await stopping;
      expect(sink.status().mode).toBe("spooling");
      await restart();
    }
    await publishUntil(total);
    for (let i = 0; i < 600 && sink.status().mode !== "direct"; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(sink.status()).toMatchObject({ mode: "direct", spoolBytes: 0 });
    await sink.close();
    expect(where.get("spool")).toBeGreaterThanOrEqual(10_000);
    expectEverySeqOnceInOrder(await consumeSeqs(topic, total), total);
  });

  it("turns an outage longer than the spool into backpressure, then delivers everything", async () => {
    const topic = await newTopic();
    const maxBytes = 1_048_576;
    let maxSpool = 0;
    const fulls: boolean[] = [];
    const sink = await sinkFor(topic, maxBytes, (o) => {
      if ("spoolBytes" in o) maxSpool = Math.max(maxSpool, o.spoolBytes);
      if (o.type === "spool-full") fulls.push(o.full);
    });
    await broker.stop();
    const total = 6_000; // ~6 MB of records for a 1 MiB spool
    let sent = 0;
    const writer = (async () => {
      for (; sent < total; sent += 100) await sink.publish(batchFrom(sent, 100, "y".repeat(1_000)));
    })();
    for (let i = 0; i < 300 && !sink.status().full; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(sink.status().full).toBe(true);
    const blockedAt = sent;
    await new Promise((r) => setTimeout(r, 1_000));
    expect(sent).toBe(blockedAt); // the publisher waits: nothing is taken that cannot be kept
    expect(blockedAt).toBeLessThan(total);
    await restart();
    await writer;
    for (let i = 0; i < 600 && sink.status().mode !== "direct"; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await sink.close();
    expect(maxSpool).toBeLessThanOrEqual(maxBytes);
    expect(fulls[0]).toBe(true);
    expect(fulls.at(-1)).toBe(false);
    expectEverySeqOnceInOrder(await consumeSeqs(topic, total), total);
  });
});
