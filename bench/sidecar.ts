// `npm run bench:sidecar`: the sidecar end to end against a real broker, as ratios against a
// same-run reference. Phase 1: a generated 1,000,000-line combined access log; the raw ceiling
// is kafkajs producing the same lines with no processing (same batch size, idempotent,
// acks=all, the sidecar's codec: zstd unless BENCH_COMPRESSION says gzip or none), the sidecar is the real process (`node sidecar/main.ts`, seal mode). Both
// are counted by a consumer on the topic. Phase 2: lines written at a fixed 10,000 lines/s;
// write-to-consume latency (an upper bound of write-to-ack), peak RSS and CPU of the sidecar.
import { randomUUID } from "node:crypto";
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import type { KafkaBroker } from "../test/infra/kafka.ts";
import type { RunningSidecar } from "../test/integration/sidecar-harness.ts";

// The sidecar's kafkajs internals (kafkajs-fast.ts) must be in place before anything loads
// kafkajs, and static imports would load it first: so the rest comes in by dynamic import. The
// raw reference then runs the same kafkajs code as the sidecar, with the sidecar's codecs
// (registered by kafka.ts, so the counting consumers read them too) and partitioner.
const { kafkajsFastPaths } = await import("../sidecar/sink/kafkajs-fast.ts");
const { memoizedPartitioner } = await import("../sidecar/sink/kafka.ts");
const { compressionNamed, compressionType } = await import("../sidecar/sink/codecs.ts");
const kafkajs = (await import("kafkajs")).default;
const { Kafka, logLevel } = kafkajs;
const { startKafka } = await import("../test/infra/kafka.ts");
const { ensureToolchain } = await import("../test/infra/toolchain.ts");
const { makePod, readiness, startSidecar, until } = await import(
  "../test/integration/sidecar-harness.ts"
);

const LINES = Number(process.env.BENCH_LINES ?? 1_000_000);
const RATE = 10_000;
const RATE_SECONDS = Number(process.env.BENCH_RATE_SECONDS ?? 15);
const ORIGIN = "bench/ns/pod/app/access.log";
const COMPRESSION = compressionNamed(process.env.BENCH_COMPRESSION ?? "zstd", "BENCH_COMPRESSION");

const line = (n: number, t = 1_795_600_000_000) =>
  `10.0.${(n >> 8) & 255}.${n & 255} - user${n % 997} [23/Nov/2026:10:00:00 +0000] "GET /api/v1/items/${n}?t=${t} HTTP/1.1" ${n % 50 === 0 ? 404 : 200} ${200 + (n % 5_000)} "https://shop.example/cart" "Mozilla/5.0 (X11; Linux x86_64)"\n`;

function kafka(broker: KafkaBroker) {
  return new Kafka({ clientId: "bench", brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
}

async function topic(broker: KafkaBroker): Promise<string> {
  const name = `bench-${randomUUID()}`;
  const admin = kafka(broker).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: name, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  return name;
}

/** Counts messages matching `isLine` until `want`; returns first/last arrival times. */
async function consume(
  broker: KafkaBroker,
  name: string,
  want: number,
  isLine: (v: Buffer) => boolean,
  onLine?: (v: Buffer, now: number) => void,
): Promise<{ first: number; last: number }> {
  const consumer = kafka(broker).consumer({ groupId: `g-${randomUUID()}`, maxWaitTimeInMs: 5 });
  await consumer.connect();
  await consumer.subscribe({ topic: name, fromBeginning: true });
  let count = 0;
  let first = 0;
  const done = new Promise<number>((resolve) => {
    void consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        const now = Date.now();
        for (const m of batch.messages) {
          const v = m.value as Buffer;
          if (!isLine(v)) continue;
          if (count++ === 0) first = now;
          onLine?.(v, now);
        }
        if (count >= want) resolve(now);
      },
    });
  });
  const last = await done;
  await consumer.disconnect();
  return { first, last };
}

const isLog = (v: Buffer) => v.includes('"type":"log"');

async function rawCeiling(broker: KafkaBroker, lines: Buffer[]): Promise<number> {
  const name = await topic(broker);
  const producer = kafka(broker).producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: memoizedPartitioner,
  });
  await producer.connect();
  const counted = consume(broker, name, lines.length, () => true);
  const start = Date.now();
  for (let i = 0; i < lines.length; i += 2_000) {
    await producer.send({
      topic: name,
      acks: -1,
      compression: compressionType(kafkajs, COMPRESSION),
      messages: lines.slice(i, i + 2_000).map((value) => ({ key: ORIGIN, value })),
    });
  }
  const { last } = await counted;
  await producer.disconnect();
  return lines.length / ((last - start) / 1_000);
}

/**
 * Samples the sidecar's anonymous resident memory (heap, buffers: what is the process's own,
 * unlike the pages of the node binary that RSS also counts) every 50 ms; the kernel keeps a
 * peak only for the whole RSS (VmHWM).
 */
function anonSampler(pid: number) {
  let peak = 0;
  const timer = setInterval(() => {
    try {
      const kb = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
      peak = Math.max(peak, Number(kb ?? 0) / 1_024);
    } catch {
      // exited
    }
  }, 50);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}

function procStats(pid: number): { cpuSeconds: number; sysSeconds: number; peakRssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  // utime and stime, in clock ticks (100/s)
  const [user, sys] = [Number(stat[11]) / 100, Number(stat[12]) / 100];
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return { cpuSeconds: user + sys, sysSeconds: sys, peakRssMb: Number(hwm) / 1_024 };
}

async function benchPod(broker: KafkaBroker, name: string) {
  const maxBytes = Number(process.env.BENCH_BATCH_BYTES ?? 4 * 1_048_576);
  const pod = await makePod({
    kafka: {
      brokers: [broker.bootstrap],
      topic: name,
      compression: COMPRESSION,
      batch: {
        maxBytes,
        maxRecords: Math.max(2_000, Math.floor(maxBytes / 512)),
        // The config's default (5 ms) unless BENCH_LINGER_MS says otherwise.
        ...(process.env.BENCH_LINGER_MS ? { lingerMs: Number(process.env.BENCH_LINGER_MS) } : {}),
      },
    },
  });
  if (process.env.SIDECAR_NODE_OPTIONS) pod.env.NODE_OPTIONS = process.env.SIDECAR_NODE_OPTIONS;
  return pod;
}

/** `p`, or an error with the sidecar's output if the sidecar exits first (instead of waiting forever). */
async function whileRunning<T>(sidecar: RunningSidecar, p: Promise<T>): Promise<T> {
  const died = sidecar.exited.then((code) => {
    throw new Error(`sidecar exited (${code}) before the lines arrived:\n${sidecar.output()}`);
  });
  return Promise.race([p, died]);
}

async function sidecarThroughput(broker: KafkaBroker, text: string) {
  const name = await topic(broker);
  const pod = await benchPod(broker, name);
  writeFileSync(pod.logFile, text);
  const counted = consume(broker, name, LINES, isLog);
  const start = Date.now();
  const sidecar = startSidecar(pod);
  const anon = anonSampler(sidecar.child.pid as number);
  const { first, last } = await whileRunning(sidecar, counted);
  const stats = procStats(sidecar.child.pid as number);
  const peakAnonMb = anon.stop();
  sidecar.child.kill("SIGTERM");
  await sidecar.exited;
  // BENCH_SIDECAR_OUTPUT: the sidecar's own output of this phase (its logs, --trace-gc...).
  if (process.env.BENCH_SIDECAR_OUTPUT)
    writeFileSync(process.env.BENCH_SIDECAR_OUTPUT, sidecar.output());
  return {
    linesPerSecond: LINES / ((last - start) / 1_000),
    steadyLinesPerSecond: LINES / ((last - first) / 1_000),
    ...stats,
    peakAnonMb,
    wallSeconds: (last - start) / 1_000,
  };
}

async function sidecarAtRate(broker: KafkaBroker) {
  const name = await topic(broker);
  const pod = await benchPod(broker, name);
  writeFileSync(pod.logFile, "");
  const sidecar = startSidecar(pod);
  await until("ready", async () => (await readiness(pod))?.status === 200);
  await new Promise((r) => setTimeout(r, 2_000));
  const idleRssMb = procStats(sidecar.child.pid as number).peakRssMb;
  const total = RATE * RATE_SECONDS;
  const latencies: number[] = [];
  const counted = consume(broker, name, total, isLog, (v, now) => {
    const t = Number(/\?t=(\d+)/.exec(v.toString())?.[1]);
    latencies.push(now - t);
  });
  const anon = anonSampler(sidecar.child.pid as number);
  // CPU of the rate phase only (not start-up, which loads and compiles every module).
  const cpuBefore = procStats(sidecar.child.pid as number).cpuSeconds;
  const fd = openSync(pod.logFile, "a");
  const start = Date.now();
  for (let n = 0; n < total; ) {
    let chunk = "";
    const now = Date.now();
    for (let i = 0; i < RATE / 1_000 && n < total; i++) chunk += line(n++, now); // every 1 ms
    writeSync(fd, chunk);
    const due = start + (n / RATE) * 1_000;
    await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
  }
  closeSync(fd);
  await whileRunning(sidecar, counted);
  const seconds = (Date.now() - start) / 1_000;
  const stats = procStats(sidecar.child.pid as number);
  const peakAnonMb = anon.stop();
  sidecar.child.kill("SIGTERM");
  await sidecar.exited;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return {
    p50: pct(0.5),
    p99: pct(0.99),
    idleRssMb,
    ...stats,
    peakAnonMb,
    cpuPerSecond: (stats.cpuSeconds - cpuBefore) / seconds,
  };
}

async function main(): Promise<void> {
  // Only Kafka is needed: AUDITREADY_KAFKA_LIBS skips building the other components.
  const libs = process.env.AUDITREADY_KAFKA_LIBS ?? (await ensureToolchain()).kafkaLibs;
  const broker = await startKafka({ libs });
  try {
    const lines = Array.from({ length: LINES }, (_, n) => Buffer.from(line(n).trimEnd()));
    const text = `${lines.join("\n")}\n`;
    console.error(
      `bench: ${LINES} lines, ${(text.length / 1_048_576).toFixed(0)} MiB; kafkajs fast paths: ${kafkajsFastPaths}`,
    );
    const raw = await rawCeiling(broker, lines);
    console.error(`bench: raw ceiling ${raw.toFixed(0)} lines/s`);
    const t = await sidecarThroughput(broker, text);
    console.error(`bench: sidecar ${t.linesPerSecond.toFixed(0)} lines/s`);
    const r = await sidecarAtRate(broker);
    const rows = [
      ["raw kafkajs produce ceiling (same run)", `${raw.toFixed(0)} lines/s`, "1.00"],
      [
        "sidecar seal mode, end to end",
        `${t.linesPerSecond.toFixed(0)} lines/s`,
        (t.linesPerSecond / raw).toFixed(2),
      ],
      [
        "sidecar seal mode, first to last record",
        `${t.steadyLinesPerSecond.toFixed(0)} lines/s`,
        (t.steadyLinesPerSecond / raw).toFixed(2),
      ],
      [
        `sidecar CPU for ${LINES} lines`,
        `${t.cpuSeconds.toFixed(1)} s (${t.sysSeconds.toFixed(1)} s system) in ${t.wallSeconds.toFixed(1)} s wall (${(t.cpuSeconds / t.wallSeconds).toFixed(2)} cores, ${((t.cpuSeconds / LINES) * 1e6).toFixed(1)} µs per line)`,
        "",
      ],
      [
        `sidecar peak RSS, ${LINES}-line backlog (anonymous part)`,
        `${t.peakRssMb.toFixed(0)} MB (${t.peakAnonMb.toFixed(0)} MB)`,
        "",
      ],
      ["sidecar RSS idle after start", `${r.idleRssMb.toFixed(0)} MB`, ""],
      [
        `at ${RATE} lines/s for ${RATE_SECONDS} s: write-to-consume p50 / p99`,
        `${r.p50} ms / ${r.p99} ms`,
        "",
      ],
      [
        `at ${RATE} lines/s: peak RSS (anonymous part), CPU`,
        `${r.peakRssMb.toFixed(0)} MB (${r.peakAnonMb.toFixed(0)} MB), ${r.cpuPerSecond.toFixed(2)} cores`,
        "",
      ],
    ];
    console.log("| measure | value | ratio to raw |\n|---|---|---|");
    for (const row of rows) console.log(`| ${row.join(" | ")} |`);
  } finally {
    await broker.stop();
  }
}

await main();
