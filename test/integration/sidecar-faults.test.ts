// Fault tests of the whole sidecar process against a broker of the test's own, the verifier as
// the judge: every written line must be in the topic (duplicates from at-least-once replays
// are allowed and show as information, never as errors), and the verifier must find no error.
// - 100,000 lines while the broker is stopped and started again three times;
// - the sidecar killed with SIGKILL ten times at random points under load, and restarted.
import { randomUUID } from "node:crypto";
import { closeSync, openSync, writeSync } from "node:fs";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FINDING_LEVELS, type FindingCode } from "../../entry/verify/findings.ts";
import { endpoint } from "../infra/endpoints.ts";
import { type KafkaBroker, startKafka } from "../infra/kafka.ts";
import {
  accessLine,
  findingCodes,
  judge,
  makePod,
  type Pod,
  type RunningSidecar,
  readiness,
  startSidecar,
  until,
} from "./sidecar-harness.ts";

let broker: KafkaBroker;
beforeAll(async () => {
  broker = await startKafka({ libs: endpoint("kafkaLibs"), heapMb: 384 });
}, 120_000);
afterAll(() => broker?.stop());

async function restartBroker(): Promise<void> {
  broker = await startKafka({
    libs: endpoint("kafkaLibs"),
    heapMb: 384,
    workDir: broker.workDir,
    ports: broker.ports,
  });
}

async function kafkaPod(): Promise<{ pod: Pod; topic: string }> {
  const topic = `faults-${randomUUID()}`;
  const admin = new Kafka({
    clientId: "faults",
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const pod = await makePod({ kafka: { brokers: [broker.bootstrap], topic } });
  return { pod, topic };
}

/** Appends `total` lines at about `perSecond`; resolves when all are written. */
async function writeLines(path: string, total: number, perSecond: number): Promise<void> {
  const fd = openSync(path, "a");
  const started = Date.now();
  try {
    for (let n = 0; n < total; ) {
      let chunk = "";
      for (let i = 0; i < perSecond / 100 && n < total; i++) chunk += accessLine(n++);
      writeSync(fd, chunk);
      const due = started + (n / perSecond) * 1_000;
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
    }
  } finally {
    closeSync(fd);
  }
}

async function stopSidecar(s: RunningSidecar): Promise<void> {
  s.child.kill("SIGTERM");
  const code = await s.exited;
  if (code !== 0) throw new Error(`sidecar exited ${code}:\n${s.output().slice(-3_000)}`);
}

function countBy(codes: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of codes) out[c] = (out[c] ?? 0) + 1;
  return out;
}

function expectEveryLine(lines: number[], total: number): void {
  const seen = new Set(lines);
  const missing = Array.from({ length: total }, (_, i) => i).filter((n) => !seen.has(n));
  expect(missing, `${missing.length} lines missing`).toEqual([]);
  expect(seen.size).toBe(total);
}

describe("sidecar faults against the real broker", () => {
  it("loses nothing of 100,000 lines while the broker is stopped and restarted three times", async () => {
    const { pod, topic } = await kafkaPod();
    const total = 100_000;
    const sidecar = startSidecar(pod);
    try {
      await until("ready", async () => (await readiness(pod))?.status === 200);
      const writing = writeLines(pod.logFile, total, 5_000);
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 2_000));
        await broker.stop();
        await new Promise((r) => setTimeout(r, 1_000)); // the sidecar spools meanwhile
        await restartBroker();
      }
      await writing;
      await until(
        "everything in the topic",
        async () =>
          (await judge(pod, { brokers: [broker.bootstrap], topic })).lines.length >= total,
        120_000,
      );
      await stopSidecar(sidecar);
    } finally {
      sidecar.child.kill("SIGKILL");
    }
    const j = await judge(pod, { brokers: [broker.bootstrap], topic });
    expectEveryLine(j.lines, total);
    expect(findingCodes(j.report).filter((c) => !["DUPLICATE", "ORPHANED"].includes(c))).toEqual(
      [],
    );
    expect(j.report.ok).toBe(true);
    expect(sidecar.output()).toMatch(/"event":"sink-failed"/);
    expect(sidecar.output()).toMatch(/"event":"sink-recovered"/);
  }, 300_000);

  it("loses nothing when the sidecar is killed with SIGKILL ten times under load", async () => {
    const { pod, topic } = await kafkaPod();
    const total = 40_000;
    const writing = writeLines(pod.logFile, total, 4_000);
    let sidecar = startSidecar(pod);
    const outputs: string[] = [];
    try {
      for (let kill = 0; kill < 10; kill++) {
        await until("ready", async () => (await readiness(pod))?.status === 200);
        await new Promise((r) => setTimeout(r, 200 + Math.random() * 800));
        sidecar.child.kill("SIGKILL");
        await sidecar.exited;
        outputs.push(sidecar.output());
        sidecar = startSidecar(pod);
      }
      await writing;
      await until(
        "every line in the topic",
        async () =>
          new Set((await judge(pod, { brokers: [broker.bootstrap], topic })).lines).size >= total,
        120_000,
      );
      await stopSidecar(sidecar);
    } finally {
      sidecar.child.kill("SIGKILL");
    }
    const j = await judge(pod, { brokers: [broker.bootstrap], topic });
    expectEveryLine(j.lines, total);
    // Errors: none. Warnings and information say what the kills did (ORPHANED unsealed tails,
    // UNCLEAN_END epochs, REPLAYED_SOURCE re-read lines, EPOCH_UNLINKED after a kill between a
    // checkpoint's acknowledgement and the state save).
    const codes = findingCodes(j.report);
    expect(codes.filter((c) => FINDING_LEVELS[c as FindingCode] === "error")).toEqual([]);
    console.log(`SIGKILL x10: findings ${JSON.stringify(countBy(codes))}`);
    expect(j.report.ok).toBe(true);
    // 11 starts; a start killed before its first batch was acknowledged leaves no epoch behind.
    expect(j.leafTypes.get("epoch-start")).toBeGreaterThanOrEqual(6);
    expect(j.leafTypes.get("epoch-start")).toBeLessThanOrEqual(11);
  }, 300_000);
});
