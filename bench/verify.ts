// `npm run bench:verify`: `auditready verify` reading a real topic, against a same-run reference
// that reads the same topic the same way (cli/sources.ts' readTopic: Fetch requests, cli/fetch.ts)
// and does nothing else. The ratio is what verification adds to reading. Each side runs as its
// own process (alternating, best of BENCH_RUNS) and reports its wall time, CPU and peak RSS.
// Not a test: it prints numbers.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";

interface Usage {
  messages: number;
  wallMs: number;
  cpuMs: number;
  maxRssKb: number;
}

const MARK = "bench-verify-usage ";

function report(messages: number, t0: number): void {
  const u = process.resourceUsage();
  const usage: Usage = {
    messages,
    wallMs: performance.now() - t0,
    cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000,
    maxRssKb: u.maxRSS,
  };
  process.stderr.write(`${MARK}${JSON.stringify(usage)}\n`);
}

/** Child modes: read the topic only, or run `auditready verify` in this process. */
async function child(mode: string, args: string[]): Promise<void> {
  const t0 = performance.now();
  if (mode === "--read") {
    const [brokers = "", topic = ""] = args;
    const { readTopic } = await import("../cli/sources.ts");
    let n = 0;
    for await (const m of readTopic({ brokers: [brokers], topic }, () => undefined))
      if (m.value.length > 0) n++;
    report(n, t0);
    return;
  }
  const { runVerify } = await import("../cli/verify.ts");
  const code = await runVerify(args);
  if (code !== 0) throw new Error(`auditready verify exited ${code}`);
  report(0, t0);
}

function run(args: string[]): Usage {
  const r = spawnSync(process.execPath, [new URL(import.meta.url).pathname, ...args], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  const line = r.stderr.split("\n").find((l) => l.startsWith(MARK));
  if (r.status !== 0 || !line) {
    throw new Error(`bench child ${args[0]} failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
  }
  return JSON.parse(line.slice(MARK.length)) as Usage;
}

async function main(): Promise<void> {
  const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200_000);
  const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 2));
  const STREAMS = 4;
  const kafkajs = (await import("kafkajs")).default;
  const { Kafka, logLevel } = kafkajs;
  const { compressionNamed, compressionType, registerCodecs } = await import(
    "../sidecar/sink/codecs.ts"
  );
  registerCodecs(kafkajs);
  // The sidecar's default codec unless BENCH_COMPRESSION says otherwise.
  const compression = compressionNamed(
    process.env.BENCH_COMPRESSION ?? "zstd",
    "BENCH_COMPRESSION",
  );
  const { StreamBuilder } = await import("../entry/verify/testing.ts");
  const { generateSigningKey } = await import("../entry/keys.ts");
  const { startKafka } = await import("../test/infra/kafka.ts");
  const { ensureToolchain } = await import("../test/infra/toolchain.ts");

  const libs = process.env.AUDITREADY_KAFKA_LIBS ?? (await ensureToolchain()).kafkaLibs;
  const broker = await startKafka({ libs });
  try {
    const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const topic = "bench-verify";
    const admin = kafka.admin();
    await admin.connect();
    // Three partitions, as the operator creates a policy's topic; a stream stays in one.
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    await admin.disconnect();

    // Sealed streams of several pods, interleaved as their sidecars would publish them.
    const policyKey = generateSigningKey();
    const perStream = Math.ceil(MESSAGES / STREAMS);
    const streams = Array.from(
      { length: STREAMS },
      (_, i) =>
        new StreamBuilder({
          policyKey,
          origin: `bench/payments/api-${i}/api/var/log/app/access.log`,
          seal: { entries: 1000 },
        }),
    );
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    let produced = 0;
    const step = 5_000;
    for (let done = 0; done < perStream; done += step) {
      const messages = [];
      for (const b of streams) {
        // The builder's messages so far (its epoch-start first), then none kept: memory stays flat.
        b.logs(Math.min(step, perStream - done));
        if (done + step >= perStream) b.push(b.sealer.end("SIGTERM"));
        for (const m of b.messages) messages.push({ key: m.key, value: m.value });
        b.messages.length = 0;
      }
      await producer.send({
        topic,
        acks: -1,
        compression: compressionType(kafkajs, compression),
        messages,
      });
      produced += messages.length;
    }
    await producer.disconnect();

    const dir = mkdtempSync(join(tmpdir(), "auditready-bench-verify-"));
    const keys = join(dir, "keys.json");
    writeFileSync(keys, JSON.stringify([{ publicKey: policyKey.publicKey.toString("base64") }]));
    const verifyArgs = [
      "--verify",
      "--brokers",
      broker.bootstrap,
      "--topic",
      topic,
      "--keys",
      keys,
      "--no-liveness",
      "--quiet",
    ];

    let read: Usage | undefined;
    let verify: Usage | undefined;
    for (let r = 0; r < RUNS; r++) {
      const a = run(["--read", broker.bootstrap, topic]);
      if (a.messages !== produced) throw new Error(`read ${a.messages} of ${produced} messages`);
      if (!read || a.wallMs < read.wallMs) read = a;
      const v = run(verifyArgs.slice());
      if (!verify || v.wallMs < verify.wallMs) verify = v;
    }
    if (!read || !verify) throw new Error("no run");

    const rate = (u: Usage) => Math.round(produced / (u.wallMs / 1000));
    const cpuPer = (u: Usage) => ((u.cpuMs * 1000) / produced).toFixed(1);
    const fmt = (n: number) => n.toLocaleString("en-US");
    console.log(
      `auditready bench:verify — ${fmt(produced)} messages (${STREAMS} streams, seal mode N=1000, ${compression}, 3 partitions), Node ${process.version}, ${cpus()[0]?.model ?? "unknown CPU"}, a broker of its own on the same machine, best of ${RUNS} (by wall time)\n`,
    );
    console.log("| what | messages/s (wall) | CPU per message | peak RSS | ratio to reference |");
    console.log("| --- | --- | --- | --- | --- |");
    console.log(
      `| reference: read the topic (kafkajs, no verification) | ${fmt(rate(read))} /s | ${cpuPer(read)} µs | ${Math.round(read.maxRssKb / 1024)} MB | 1.00x |`,
    );
    console.log(
      `| auditready verify | ${fmt(rate(verify))} /s | ${cpuPer(verify)} µs | ${Math.round(verify.maxRssKb / 1024)} MB | ${(rate(verify) / rate(read)).toFixed(2)}x |`,
    );
  } finally {
    await broker.stop();
  }
}

const mode = process.argv[2];
if (mode === "--read" || mode === "--verify") await child(mode, process.argv.slice(3));
else await main();
