// The witness on the real broker: `auditready verify --follow` cosigns what it verified onto
// its own topic; then copies of the data topic that lost a stream's tail, a whole stream, or
// show another history signed with a stream's real epoch key are verified with no state of
// their own, and only the witness's cosignatures give them away.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kafka, logLevel, type Message } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadWitnessKeys, readWitnessed } from "../../cli/witnessed.ts";
import { defaultWitnessName } from "../../entry/cosignature.ts";
import { generateSigningKey, publicKeyFrom } from "../../entry/keys.ts";
import type { Emitted } from "../../entry/seal.ts";
import type { Finding } from "../../entry/verify/findings.ts";
import { StreamBuilder, splitView, T0 } from "../../entry/verify/testing.ts";
import type { VerifyReport } from "../../entry/verify/verifier.ts";
import { cosignatureMessage, type Witnessed } from "../../entry/witness.ts";
import { endpoint } from "../infra/endpoints.ts";
import { until } from "../infra/wait.ts";

const brokers = endpoint("kafkaBootstrap");
const kafka = new Kafka({ clientId: "witness-it", brokers: [brokers], logLevel: logLevel.NOTHING });
const admin = kafka.admin();
// Idempotent: a retried send must not duplicate records (the counts below are exact).
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const cli = new URL("../../cli/auditready.ts", import.meta.url).pathname;

const policy = new StreamBuilder().policyKey;
const origin = (pod: string) => `it/payments/${pod}/api/var/log/app/access.log`;
const a = new StreamBuilder({ policyKey: policy, origin: origin("api-0") }).logs(1200);
a.push(a.sealer.end("SIGTERM"));
const b = new StreamBuilder({ policyKey: policy, origin: origin("api-1") }).logs(300);
b.push(b.sealer.end("SIGTERM"));
// C keeps running (no end): its fork below must reach the same size.
const c = new StreamBuilder({ policyKey: policy, origin: origin("api-2") }).logs(100);

function interleave(...streams: (readonly Emitted[])[]): Emitted[] {
  const out: Emitted[] = [];
  for (let i = 0; i < Math.max(...streams.map((s) => s.length)); i++)
    for (const s of streams) if (s[i]) out.push(s[i] as Emitted);
  return out;
}
const toMessage = (m: Emitted): Message => ({ key: m.key, value: m.value });

async function publish(topic: string, messages: readonly Emitted[], partitions = 3) {
  // Kept forever: the test records are dated days ago, and a time retention (the broker's
  // default is 7 days) would rightly excuse what the copies drop.
  await admin.createTopics({
    topics: [
      { topic, numPartitions: partitions, configEntries: [{ name: "retention.ms", value: "-1" }] },
    ],
    waitForLeaders: true,
  });
  for (let i = 0; i < messages.length; i += 500)
    await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 500).map(toMessage) });
}

const dir = mkdtempSync(join(tmpdir(), "auditready-witness-it-"));
const keysFile = join(dir, "keys.json");
const witnessKeyFile = join(dir, "witness.key");
const witnessPubFile = join(dir, "witness.json");
const topic = `audit.witness-${randomUUID()}`;
const witnessTopic = `${topic}.witness`;

function verify(source: string, ...extra: string[]) {
  const r = spawnSync(
    process.execPath,
    [cli, "verify", "--brokers", brokers, "--topic", source, "--keys", keysFile, "--json"]
      .concat(["--no-liveness", "--quiet"])
      .concat(extra),
    { encoding: "utf8", timeout: 60_000 },
  );
  return { status: r.status, stderr: r.stderr, report: JSON.parse(r.stdout) as VerifyReport };
}
const withWitness = ["--witness", witnessTopic, "--witness-keys", witnessPubFile];
const findingsOf = (r: VerifyReport, o: string): Finding[] =>
  r.streams.find((s) => s.origin === o)?.findings ?? [];
const finalSize = (s: StreamBuilder) =>
  (s.messages.filter((m) => m.kind === "checkpoint").at(-1) as Emitted).seq;

describe("the witness", () => {
  let witness: ChildProcess | undefined;
  let cosigned: Map<string, Witnessed[]>;

  beforeAll(async () => {
    await admin.connect();
    await producer.connect();
    writeFileSync(keysFile, JSON.stringify(a.trustedKeys()));
    const keys = spawnSync(
      process.execPath,
      [cli, "keys", "generate", "--out", witnessKeyFile, "--public-out", witnessPubFile],
      { encoding: "utf8" },
    );
    expect(keys.status, keys.stderr).toBe(0);
    await publish(topic, interleave(a.messages, b.messages, c.messages));
    await publish(witnessTopic, [], 1);
  });
  afterAll(async () => {
    witness?.kill("SIGKILL");
    await producer.disconnect();
    await admin.disconnect();
  });

  it("verify --follow cosigns every stream's newest checkpoint on the witness topic, and stops on SIGTERM", async () => {
    witness = spawn(
      process.execPath,
      [
        cli,
        "verify",
        "--follow",
        "--brokers",
        brokers,
        "--topic",
        topic,
        "--keys",
        keysFile,
      ].concat(["--witness-key", witnessKeyFile, "--interval", "0.5"]),
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let log = "";
    witness.stderr?.on("data", (d: Buffer) => {
      log += d.toString();
    });
    const exited = new Promise<number | null>((r) => witness?.once("exit", (code) => r(code)));
    const pub = await loadWitnessKeys(witnessPubFile);
    const want = new Map([a, b, c].map((s) => [s.origin, finalSize(s)]));
    cosigned = await until(
      "cosignatures of the three streams' final checkpoints",
      async () => {
        const got = await readWitnessed({ brokers: [brokers], topic: witnessTopic }, pub, () => {});
        return [...want].every(([o, size]) => got.get(o)?.some((w) => w.size === size))
          ? got
          : undefined;
      },
      60_000,
      500,
      () => log,
    );
    // Caught up: a round that read nothing new.
    await until(
      "a round with nothing new",
      () => (log.includes('"read":0,') ? true : undefined),
      15_000,
      200,
      () => log,
    );
    witness.kill("SIGTERM");
    const code = await Promise.race([
      exited,
      new Promise((r) => setTimeout(() => r("hung"), 15_000)),
    ]);
    expect(code, log).toBe(0);
    // One line per round: what it read, its lag, what it cosigned.
    const rounds = log
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rounds[0]).toMatchObject({
      round: 1,
      read: a.messages.length + b.messages.length + c.messages.length,
      lag: 0,
      streams: 3,
    });
    // C never ended and its checkpoints are days old: STALE, the one error, and still cosigned.
    expect(rounds.at(-1)).toMatchObject({ read: 0, lag: 0, errors: 1, cosigned: [] });
    expect(cosigned.get(a.origin)?.[0]?.witness).toBe(
      defaultWitnessName(
        publicKeyFrom(
          Buffer.from(JSON.parse(readFileSync(witnessPubFile, "utf8")).keys[0].publicKey, "base64"),
        ),
      ),
    );
  });

  it("the untouched topic verifies with the witness, and a forged cosignature is ignored with a warning", async () => {
    const rogue = generateSigningKey();
    const note = JSON.parse(
      (a.messages.filter((m) => m.kind === "checkpoint").at(-1) as Emitted).value.toString(),
    ).note;
    const forged = cosignatureMessage(
      note,
      rogue,
      "auditready-witness/rogue",
      Math.floor(Date.now() / 1000),
    );
    await producer.send({
      topic: witnessTopic,
      acks: -1,
      messages: [{ key: forged.key, value: forged.value }],
    });
    const r = verify(topic, ...withWitness);
    expect(r.stderr).toMatch(
      /witness topic .*: 1 message\(s\) ignored \(no cosignature by a trusted witness key/,
    );
    expect(r.report.ok).toBe(true);
    expect(r.report.counts).toEqual({ error: 0, warning: 0, info: 0 });
    expect(r.status).toBe(0);
  });

  it("a copy that dropped A's tail and all of B: on a first run, a GAP naming each, only with the witness", async () => {
    const copy = `audit.witness-copy-${randomUUID()}`;
    const cut = a.messages.findIndex((m) => m.kind === "checkpoint" && m.seq === 601);
    await publish(copy, interleave(a.messages.slice(0, cut + 1), c.messages));
    expect(verify(copy).status).toBe(0);

    const r = verify(copy, ...withWitness);
    expect(r.status).toBe(1);
    expect(r.report.ok).toBe(false);
    const wa = cosigned.get(a.origin)?.find((w) => w.size === 1202) as Witnessed;
    expect(findingsOf(r.report, a.origin).map((f) => [f.code, f.message])).toEqual([
      [
        "GAP",
        `the witness ${wa.witness} cosigned size 1202 of epoch ${wa.epoch} (checkpoint of ${wa.checkpointTime}) at ${wa.cosignedAt}; the topic holds only up to size 601`,
      ],
    ]);
    expect(r.report.unplaced.map((f) => [f.code, f.origin])).toEqual([["GAP", b.origin]]);
    expect(r.report.unplaced[0]?.message).toMatch(
      new RegExp(
        `^stream ${b.origin} has no records in the topic, but the witness \\S+ cosigned size 302 `,
      ),
    );
    expect(findingsOf(r.report, c.origin)).toEqual([]);
  });

  it("a split view (C's history rewritten and re-sealed with its real epoch key): INCONSISTENT_CHECKPOINT", async () => {
    const copy = `audit.witness-fork-${randomUUID()}`;
    const fork = splitView(c, T0, 40, 100);
    expect(fork.filter((m) => m.kind === "checkpoint").at(-1)?.seq).toBe(finalSize(c));
    await publish(copy, interleave(a.messages, b.messages, fork as Emitted[]));
    expect(verify(copy).status).toBe(0);

    const r = verify(copy, ...withWitness);
    expect(r.status).toBe(1);
    expect(findingsOf(r.report, c.origin).map((f) => f.code)).toEqual(["INCONSISTENT_CHECKPOINT"]);
    expect(findingsOf(r.report, c.origin)[0]?.message).toMatch(
      /cosigned size 101 .*\(a split view\)$/,
    );
    expect(findingsOf(r.report, a.origin)).toEqual([]);
    expect(findingsOf(r.report, b.origin)).toEqual([]);
  });
});
