// `npm run bench:peers`: auditready side by side with the shippers users run today (rsyslog,
// syslog-ng, and kcat as the raw librdkafka ceiling), on this machine, against the project's own
// Kafka broker on loopback, with the same generated combined-format lines. Three phases: a
// backlog already in the file when the tool starts, a steady rate, and idle (a line a minute).
// Each tool publishes to a fresh topic; what it delivered is counted in that topic; its cost is
// read from /proc. Rounds alternate the order of the tools. Prints one markdown table (ratios
// auditready / peer) and writes the raw numbers as JSON. Every process it starts is stopped on
// the way out, on error and on Ctrl-C too.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import kafkajs from "kafkajs";
import { readTopic } from "../../cli/sources.ts";
import { type KafkaBroker, startKafka } from "../../test/infra/kafka.ts";
import type { ManagedProcess } from "../../test/infra/process.ts";
import { TreeSampler, type TreeUsage } from "./proc.ts";
import { type Machine, machineHeader, type Result, table } from "./report.ts";
import { AUDITREADY, type PeerPaths, type PhaseName, TOOLS, type Tool } from "./tools.ts";

const ROOT = resolve(import.meta.dirname, "../..");

const { values: opt } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    lines: { type: "string" },
    "backlog-rounds": { type: "string" },
    "steady-rounds": { type: "string" },
    rate: { type: "string", default: "10000" },
    "steady-seconds": { type: "string" },
    "idle-seconds": { type: "string" },
    "idle-every": { type: "string" },
    phases: { type: "string", default: "backlog,steady,idle" },
    tools: { type: "string" },
    timeout: { type: "string", default: "600" },
    stall: { type: "string", default: "20" },
    json: { type: "string" },
  },
});

function num(name: string, value: string | undefined, quick: number, full: number): number {
  const v = value === undefined ? (opt.quick ? quick : full) : Number(value);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

const settings = {
  lines: num("lines", opt.lines, 100_000, 1_000_000),
  backlogRounds: num("backlog-rounds", opt["backlog-rounds"], 2, 3),
  steadyRounds: num("steady-rounds", opt["steady-rounds"], 1, 2),
  rate: num("rate", opt.rate, 10_000, 10_000),
  steadySeconds: num("steady-seconds", opt["steady-seconds"], 10, 30),
  idleSeconds: num("idle-seconds", opt["idle-seconds"], 60, 240),
  idleEvery: num("idle-every", opt["idle-every"], 20, 60),
  phases: opt.phases.split(",") as PhaseName[],
  timeoutMs: num("timeout", opt.timeout, 0, 0) * 1_000,
  stallMs: num("stall", opt.stall, 0, 0) * 1_000,
  /** How long a tool runs on an empty file before the steady and idle phases start. */
  settleMs: 5_000,
};
const tools = TOOLS.filter(
  (t) => opt.tools === undefined || opt.tools.split(",").some((s) => t.name.includes(s)),
);

/** The same line format as bench/sidecar.ts: ~160 bytes, a line number to count distinct lines. */
export const accessLine = (n: number) =>
  `10.0.${(n >> 8) & 255}.${n & 255} - user${n % 997} [23/Nov/2026:10:00:00 +0000] "GET /api/v1/items/${n}?t=1795600000000 HTTP/1.1" ${n % 50 === 0 ? 404 : 200} ${200 + (n % 5_000)} "https://shop.example/cart" "Mozilla/5.0 (X11; Linux x86_64)"\n`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Everything started, so that an error or Ctrl-C still stops it.
const running = new Set<ManagedProcess>();
const samplers = new Set<TreeSampler>();
let broker: KafkaBroker | undefined;
let work: string | undefined;

async function cleanup(): Promise<void> {
  for (const s of samplers) s.stop();
  await Promise.all([...running].map((p) => p.stop(10_000)));
  await broker?.stop();
  if (broker) rmSync(broker.workDir, { recursive: true, force: true });
  if (work) rmSync(work, { recursive: true, force: true });
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`bench:peers: ${signal}, stopping everything it started`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** Runs a script of this repo, stderr passed through; its last `key=value` lines on stdout. */
function script(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn("bash", [join(ROOT, path)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d;
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolvePromise(out)
        : reject(new Error(`${path} failed (exit ${code}); its output is above`)),
    );
  });
}

function capture(command: string, args: string[]): Promise<string> {
  return new Promise((resolvePromise) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d;
    });
    child.on("error", (err) => resolvePromise(`unknown (${err.message})`));
    child.on("close", () => resolvePromise(out));
  });
}

async function installPeers(): Promise<PeerPaths & { syslogngVersion: string }> {
  const out = await script("bench/peers/install.sh");
  const kv = Object.fromEntries(
    out
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  for (const k of ["rsyslogd", "kcat", "syslogng", "syslogngModules", "syslogngLibs"])
    if (!kv[k]) throw new Error(`bench/peers/install.sh did not say where ${k} is:\n${out}`);
  return kv as unknown as PeerPaths & { syslogngVersion: string };
}

interface Bench {
  broker: KafkaBroker;
  admin: ReturnType<InstanceType<typeof kafkajs.Kafka>["admin"]>;
  peers: PeerPaths;
  work: string;
  backlogFile: string;
}

async function createTopic(b: Bench): Promise<string> {
  const topic = `peers-${randomUUID()}`;
  await b.admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  return topic;
}

async function highWater(b: Bench, topic: string): Promise<number> {
  const offsets = await b.admin.fetchTopicOffsets(topic);
  return offsets.reduce((n, o) => n + Number(o.high), 0);
}

/** Lines in the topic (by `isLine`) and how many distinct line numbers among the first `written`. */
async function countTopic(b: Bench, topic: string, tool: Tool, written: number) {
  const seen = new Uint8Array(written);
  let delivered = 0;
  let distinct = 0;
  const marker = Buffer.from("/items/");
  for await (const m of readTopic({ brokers: [b.broker.bootstrap], topic }, () => undefined)) {
    const value = Buffer.from(m.value.buffer, m.value.byteOffset, m.value.byteLength);
    if (!tool.isLine(value)) continue;
    delivered++;
    const at = value.indexOf(marker);
    if (at < 0) continue;
    let n = 0;
    for (let i = at + marker.length; value[i] !== undefined && value[i] !== 0x3f; i++)
      n = n * 10 + ((value[i] as number) - 48);
    if (n < written && seen[n] === 0) {
      seen[n] = 1;
      distinct++;
    }
  }
  await b.admin.deleteTopics({ topics: [topic] });
  return { delivered, distinct };
}

interface Started {
  tool: Tool;
  dir: string;
  file: string;
  topic: string;
  proc: ManagedProcess;
  sampler: TreeSampler;
  startedAt: number;
}

async function startTool(b: Bench, tool: Tool, backlog: boolean): Promise<Started> {
  const dir = mkdtempSync(join(b.work, "tool-"));
  const file = join(dir, "access.log");
  if (backlog) copyFileSync(b.backlogFile, file);
  else writeFileSync(file, "");
  const topic = await createTopic(b);
  const startedAt = Date.now();
  const proc = await tool.start({
    dir,
    file,
    topic,
    bootstrap: b.broker.bootstrap,
    peers: b.peers,
  });
  running.add(proc);
  const sampler = new TreeSampler([proc.pid], tool.wrapper);
  samplers.add(sampler);
  return { tool, dir, file, topic, proc, sampler, startedAt };
}

async function stopTool(s: Started): Promise<void> {
  s.sampler.stop();
  samplers.delete(s.sampler);
  await s.proc.stop(10_000);
  running.delete(s.proc);
}

function assertRunning(s: Started): void {
  if (!s.proc.running)
    throw new Error(`${s.tool.name} exited; its log ${s.proc.logFile}:\n${s.proc.logTail()}`);
}

/**
 * Waits until the topic holds `want` messages (auditready: at least `want` and no new record
 * for 2 s, since checkpoints share the topic), or nothing new came for the stall time, or the
 * phase's time is up. Returns when the last message arrived.
 */
async function delivered(b: Bench, s: Started, want: number, since: number): Promise<number> {
  const deadline = Date.now() + settings.timeoutMs;
  let last = -1;
  let lastChange = since;
  const exact = s.tool.name !== AUDITREADY;
  for (;;) {
    assertRunning(s);
    const hw = await highWater(b, s.topic);
    const now = Date.now();
    if (hw !== last) {
      last = hw;
      lastChange = now;
    }
    if (hw >= want && (exact || now - lastChange >= 2_000)) return lastChange;
    if (now - lastChange >= settings.stallMs) {
      console.error(`bench:peers: ${s.tool.name}: nothing new for ${settings.stallMs / 1_000} s`);
      return lastChange;
    }
    if (now > deadline) {
      console.error(`bench:peers: ${s.tool.name}: not done within ${settings.timeoutMs / 1_000} s`);
      return lastChange;
    }
    await sleep(100);
  }
}

async function finish(
  b: Bench,
  s: Started,
  phase: PhaseName,
  round: number,
  m: { linesWritten: number; wallSeconds: number; cpuSeconds: number; usage: TreeUsage },
  startupCpuSeconds?: number,
): Promise<Result> {
  await stopTool(s);
  const counted = await countTopic(b, s.topic, s.tool, m.linesWritten);
  rmSync(s.dir, { recursive: true, force: true });
  const r: Result = {
    phase,
    tool: s.tool.name,
    round,
    linesWritten: m.linesWritten,
    ...counted,
    wallSeconds: m.wallSeconds,
    cpuSeconds: m.cpuSeconds,
    startupCpuSeconds,
    peakRssMb: m.usage.peakRssMb,
    peakAnonMb: m.usage.peakAnonMb,
    peakPssMb: m.usage.peakPssMb,
  };
  console.error(
    `bench:peers: ${phase} round ${round} ${r.tool}: ${r.delivered}/${r.linesWritten} lines, ${r.wallSeconds.toFixed(1)} s, ${r.cpuSeconds.toFixed(2)} CPU s, peak RSS ${r.peakRssMb.toFixed(0)} MB, anon ${r.peakAnonMb.toFixed(0)} MB, PSS ${r.peakPssMb.toFixed(0)} MB`,
  );
  return r;
}

async function backlog(b: Bench, tool: Tool, round: number): Promise<Result> {
  const s = await startTool(b, tool, true);
  const end = await delivered(b, s, settings.lines, s.startedAt);
  const usage = s.sampler.usage();
  return finish(b, s, "backlog", round, {
    linesWritten: settings.lines,
    wallSeconds: (end - s.startedAt) / 1_000,
    cpuSeconds: usage.cpuSeconds,
    usage,
  });
}

/** Appends `total` lines at `rate` lines/s, 1/100 of a second's worth at a time. */
async function writeAtRate(files: string[], total: number, rate: number): Promise<void> {
  const fds = files.map((f) => openSync(f, "a"));
  try {
    const start = Date.now();
    for (let n = 0; n < total; ) {
      let chunk = "";
      for (let i = 0; i < rate / 100 && n < total; i++) chunk += accessLine(n++);
      for (const fd of fds) writeSync(fd, chunk);
      await sleep(Math.max(0, start + (n / rate) * 1_000 - Date.now()));
    }
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

async function steady(b: Bench, tool: Tool, round: number): Promise<Result> {
  const s = await startTool(b, tool, false);
  await sleep(settings.settleMs);
  assertRunning(s);
  const cpuBefore = s.sampler.cpuSeconds();
  s.sampler.resetPeaks();
  const total = Math.round(settings.rate * settings.steadySeconds);
  const start = Date.now();
  await writeAtRate([s.file], total, settings.rate);
  const end = await delivered(b, s, total, start);
  const usage = s.sampler.usage();
  return finish(b, s, "steady", round, {
    linesWritten: total,
    wallSeconds: (end - start) / 1_000,
    cpuSeconds: usage.cpuSeconds - cpuBefore,
    usage,
  });
}

/** All tools at once: idle costs next to nothing, and the minutes are the same for all. */
async function idle(b: Bench, idleTools: readonly Tool[]): Promise<Result[]> {
  const started: Started[] = [];
  for (const tool of idleTools) started.push(await startTool(b, tool, false));
  await sleep(Math.max(settings.settleMs, 10_000));
  const startup = started.map((s) => s.sampler.cpuSeconds());
  const before = started.map((s) => {
    assertRunning(s);
    s.sampler.resetPeaks();
    return s.sampler.cpuSeconds();
  });
  const start = Date.now();
  let n = 0;
  while (Date.now() - start < settings.idleSeconds * 1_000) {
    for (const s of started) {
      const fd = openSync(s.file, "a");
      writeSync(fd, accessLine(n));
      closeSync(fd);
    }
    n++;
    const next = start + n * settings.idleEvery * 1_000;
    await sleep(Math.max(0, Math.min(next, start + settings.idleSeconds * 1_000) - Date.now()));
  }
  const wall = (Date.now() - start) / 1_000;
  const usages = started.map((s) => s.sampler.usage());
  const results: Result[] = [];
  for (const [i, s] of started.entries()) {
    await delivered(b, s, n, start);
    const usage = usages[i] as TreeUsage;
    results.push(
      await finish(
        b,
        s,
        "idle",
        1,
        {
          linesWritten: n,
          wallSeconds: wall,
          cpuSeconds: usage.cpuSeconds - (before[i] as number),
          usage,
        },
        startup[i],
      ),
    );
  }
  return results;
}

async function machine(peers: PeerPaths & { syslogngVersion: string }): Promise<Machine> {
  const kcatVersion = await capture(peers.kcat, ["-V"]);
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    ramGb: totalmem() / 1024 ** 3,
    kernel: release(),
    versions: {
      auditready: (await capture("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"])).trim(),
      node: process.version,
      rsyslog: /rsyslogd\s+([\d.]+)/.exec(await capture(peers.rsyslogd, ["-v"]))?.[1] ?? "?",
      "syslog-ng": peers.syslogngVersion,
      kcat: /Version (\S+)/.exec(kcatVersion)?.[1] ?? "?",
      librdkafka: /librdkafka (\S+)/.exec(kcatVersion)?.[1] ?? "?",
    },
  };
}

async function main(): Promise<void> {
  const peers = await installPeers();
  const libs =
    process.env.AUDITREADY_KAFKA_LIBS ?? (await script("test/infra/kafka/fetch.sh")).trim();
  work = mkdtempSync(join(tmpdir(), "auditready-bench-peers-"));
  broker = await startKafka({ libs: libs.split("\n").pop() ?? libs });
  const admin = new kafkajs.Kafka({
    clientId: "bench-peers",
    brokers: [broker.bootstrap],
    logLevel: kafkajs.logLevel.NOTHING,
  }).admin();
  await admin.connect();
  const backlogFile = join(work, "backlog.log");
  const b: Bench = { broker, admin, peers, work, backlogFile };
  const m = await machine(peers);
  console.error(`bench:peers: ${machineHeader(m)}\nbench:peers: ${JSON.stringify(settings)}`);

  const results: Result[] = [];
  const ordered = (phase: PhaseName, round: number) => {
    const list = tools.filter((t) => t.phases.includes(phase));
    return round % 2 === 0 ? list : [...list].reverse();
  };
  if (settings.phases.includes("backlog")) {
    const fd = openSync(backlogFile, "w");
    for (let n = 0; n < settings.lines; n += 10_000) {
      let chunk = "";
      for (let i = n; i < Math.min(n + 10_000, settings.lines); i++) chunk += accessLine(i);
      writeSync(fd, chunk);
    }
    closeSync(fd);
    for (let round = 1; round <= settings.backlogRounds; round++)
      for (const tool of ordered("backlog", round)) results.push(await backlog(b, tool, round));
    rmSync(backlogFile);
  }
  if (settings.phases.includes("steady"))
    for (let round = 1; round <= settings.steadyRounds; round++)
      for (const tool of ordered("steady", round)) results.push(await steady(b, tool, round));
  if (settings.phases.includes("idle")) results.push(...(await idle(b, ordered("idle", 0))));
  await admin.disconnect();

  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const jsonPath = opt.json ?? join(ROOT, ".tmp", `bench-peers-${stamp}.json`);
  mkdirSync(resolve(jsonPath, ".."), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify({ machine: m, settings, results }, null, 2)}\n`);
  console.log(`${machineHeader(m)}\n`);
  console.log(
    `Same input for all (combined-format lines, ~160 bytes), same broker on loopback (zstd, idempotent, acks=all). Ranges are over the rounds; **bold** is auditready / that peer (medians). auditready publishes a signed ~1.1 KB record per line plus checkpoints; the peers publish the raw line. Backlog: ${settings.lines.toLocaleString("en-US")} lines in the file at start, CPU from start. Steady: ${settings.rate} lines/s for ${settings.steadySeconds} s, CPU over writing and delivery. Idle: a line every ${settings.idleEvery} s for ${settings.idleSeconds} s, all tools side by side; start-up CPU until ${Math.max(settings.settleMs, 10_000) / 1_000} s after start. kcat cannot tail a file (it holds a pipe's last lines until EOF), so it runs in the backlog phase only.\n`,
  );
  console.log(table(results, AUDITREADY));
  console.log(`\nRaw numbers: ${jsonPath}`);
}

try {
  await main();
} finally {
  await cleanup();
}
