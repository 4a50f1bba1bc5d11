// A sealed stream published to the real broker and verified from the topic, then damaged the
// only way Kafka allows: a second producer copies the topic, dropping, duplicating and
// reordering messages, and the verifier must say exactly that.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kafka, logLevel, type Message } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readTopic } from "../../cli/sources.ts";
import type { Emitted } from "../../entry/seal.ts";
import { StreamBuilder } from "../../entry/verify/testing.ts";
import { Verifier } from "../../entry/verify/verifier.ts";
import { endpoint } from "../infra/endpoints.ts";

const kafka = new Kafka({
  clientId: "verify-it",
  brokers: [endpoint("kafkaBootstrap")],
  logLevel: logLevel.NOTHING,
});
const admin = kafka.admin();
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const cli = new URL("../../cli/auditready.ts", import.meta.url).pathname;

// Two pods' streams under one policy key, interleaved as two sidecars would publish them.
const policy = new StreamBuilder().policyKey;
const a = new StreamBuilder({
  policyKey: policy,
  origin: "it/payments/api-0/api/var/log/app/access.log",
}).logs(1200);
a.push(a.sealer.end("SIGTERM"));
const b = new StreamBuilder({
  policyKey: policy,
  origin: "it/payments/api-1/api/var/log/app/access.log",
}).logs(800);
b.push(b.sealer.end("SIGTERM"));
const all: Emitted[] = [];
for (let i = 0; i < Math.max(a.messages.length, b.messages.length); i++) {
  if (a.messages[i]) all.push(a.messages[i] as Emitted);
  if (b.messages[i]) all.push(b.messages[i] as Emitted);
}
const toMessage = (m: Emitted): Message => ({ key: m.key, value: m.value });

async function publish(topic: string, messages: Message[]) {
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  for (let i = 0; i < messages.length; i += 500) {
    await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 500) });
  }
}

async function verifyTopic(topic: string) {
  const v = new Verifier({ trustedKeys: a.trustedKeys() });
  for await (const m of readTopic({ brokers: [endpoint("kafkaBootstrap")], topic }, () => {}))
    v.add(m);
  return v.finish();
}

const codesOf = (r: Awaited<ReturnType<typeof verifyTopic>>, origin: string) =>
  [...new Set(r.streams.find((s) => s.origin === origin)?.findings.map((f) => f.code))].sort();

describe("verifying a topic on the real broker", () => {
  const topic = `audit.verify-${randomUUID()}`;
  beforeAll(async () => {
    await admin.connect();
    await producer.connect();
    await publish(topic, all.map(toMessage));
  });
  afterAll(async () => {
    await producer.disconnect();
    await admin.disconnect();
  });

  it("verifies both streams, all partitions, with no finding", async () => {
    const r = await verifyTopic(topic);
    expect(r.messages).toBe(all.length);
    expect(r.ok).toBe(true);
    expect(r.streams.map((s) => [s.origin, s.findings.length, s.verified?.to])).toEqual([
      [a.origin, 0, 1201],
      [b.origin, 0, 801],
    ]);
  });

  it("auditready verify reads the topic and exits 0, leaving no consumer group behind", async () => {
    const dir = mkdtempSync(join(tmpdir(), "auditready-verify-it-"));
    writeFileSync(join(dir, "keys.json"), JSON.stringify(a.trustedKeys()));
    const r = spawnSync(
      process.execPath,
      [
        cli,
        "verify",
        "--brokers",
        endpoint("kafkaBootstrap"),
        "--topic",
        topic,
        "--keys",
        join(dir, "keys.json"),
        "--no-liveness",
        "--quiet",
      ],
      {
        encoding: "utf8",
      },
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`ok   ${a.origin}\n    verified seq 0..1201`);
    // It reads by plain fetches (cli/fetch.ts): no group to join, to authorize or to leave.
    const { groups } = await admin.listGroups();
    expect(groups.map((g) => g.groupId).filter((g) => g.startsWith("auditready-verify"))).toEqual(
      [],
    );
  });

  it("a reader that stops early (an error, a break) disconnects and exits cleanly", () => {
    // The fetcher has the next round in flight while the reader works on one.
    const script = `
      import { readTopic } from ${JSON.stringify(new URL("../../cli/sources.ts", import.meta.url).pathname)};
      let n = 0;
      for await (const m of readTopic({ brokers: [process.argv[1]], topic: process.argv[2] }, () => {}))
        if (++n >= 10) break;
      await new Promise((r) => setTimeout(r, 300));
      console.log("read", n);
    `;
    const r = spawnSync(
      process.execPath,
      ["--input-type=module", "-e", script, endpoint("kafkaBootstrap"), topic],
      { encoding: "utf8", timeout: 30_000 },
    );
    expect(r.stderr).not.toMatch(/Unhandled|Error/);
    expect(r.stdout).toBe("read 10\n");
    expect(r.status).toBe(0);
  });

  it("starts from a time: HEAD_TRUNCATED, and with its earlier state the verifier goes on from its anchor", async () => {
    const later = `audit.verify-from-time-${randomUUID()}`;
    const c = new StreamBuilder({
      policyKey: policy,
      origin: "it/payments/api-2/api/var/log/app/access.log",
    }).logs(1500);
    const firstPart = c.messages.length;
    const earlier = new Verifier({ trustedKeys: a.trustedKeys() });
    for (const [i, m] of c.messages.entries()) {
      earlier.add({ key: m.key, value: m.value, position: `#${i}` });
    }
    const state = earlier.finish().state;
    await publish(later, c.messages.map(toMessage));
    await new Promise((r) => setTimeout(r, 50));
    const cut = Date.now();
    await new Promise((r) => setTimeout(r, 50));
    c.logs(500);
    c.push(c.sealer.end("SIGTERM"));
    for (const m of c.messages.slice(firstPart))
      await producer.send({ topic: later, acks: -1, messages: [toMessage(m)] });

    const read = async (trustedState?: typeof state) => {
      // As `verify --from-time` does: what precedes the chosen start is excused, like retention.
      const asOf = Date.now();
      const v = new Verifier({
        trustedKeys: a.trustedKeys(),
        asOf,
        retentionMs: asOf - cut,
        ...(trustedState ? { trustedState } : {}),
      });
      const src = { brokers: [endpoint("kafkaBootstrap")], topic: later, fromTime: cut };
      for await (const m of readTopic(src, () => {})) v.add(m);
      return v.finish();
    };
    const withState = await read(state);
    expect(withState.messages).toBe(c.messages.length - firstPart);
    expect(codesOf(withState, c.origin)).toEqual(["HEAD_TRUNCATED"]);
    expect(withState.streams[0]?.verified).toMatchObject({ from: 1501, to: 2001, unsealed: 0 });
    // Without state, the epoch key is unknown (its epoch-start is before the cut): nothing verifies.
    const without = await read();
    expect(without.ok).toBe(false);
    // Its certificate went out before the cut too: the key is unknown, nothing counts.
    expect(codesOf(without, c.origin)).toContain("UNKNOWN_KEY");
    expect(without.streams[0]?.verified ?? null).toBeNull();
  });

  it("with its state, excuses a deleted head only as far as the topic's own retention.ms reaches", async () => {
    // The records are dated 2026-11-23: a 1-day retention explains their deletion, a 30-day one
    // does not, and `auditready verify` reads retention.ms from the broker itself.
    const c = new StreamBuilder({
      policyKey: policy,
      origin: "it/payments/api-3/api/var/log/app/access.log",
    }).logs(1500);
    c.push(c.sealer.end("SIGTERM"));
    const dir = mkdtempSync(join(tmpdir(), "auditready-retention-it-"));
    writeFileSync(join(dir, "keys.json"), JSON.stringify(c.trustedKeys()));
    const run = (topic: string, state: string) => {
      const r = spawnSync(
        process.execPath,
        [
          cli,
          "verify",
          "--brokers",
          endpoint("kafkaBootstrap"),
          "--topic",
          topic,
          "--keys",
          join(dir, "keys.json"),
          "--state",
          state,
          "--no-liveness",
          "--json",
          "--quiet",
        ],
        { encoding: "utf8" },
      );
      const report = JSON.parse(r.stdout) as {
        streams: { findings: { code: string }[] }[];
        unplaced: { code: string }[];
      };
      const codes = [
        ...new Set(
          [...report.streams.flatMap((s) => s.findings), ...report.unplaced].map((f) => f.code),
        ),
      ].sort();
      return { status: r.status, codes };
    };
    const results: Record<string, { status: number | null; codes: string[] }> = {};
    for (const [name, retention] of [
      ["short", String(86_400_000)],
      ["long", String(30 * 86_400_000)],
    ] as const) {
      const topic = `audit.verify-retention-${name}-${randomUUID()}`;
      await admin.createTopics({
        topics: [
          {
            topic,
            numPartitions: 1,
            configEntries: [{ name: "retention.ms", value: retention }],
          },
        ],
        waitForLeaders: true,
      });
      for (let i = 0; i < c.messages.length; i += 500)
        await producer.send({
          topic,
          acks: -1,
          messages: c.messages.slice(i, i + 500).map(toMessage),
        });
      const state = join(dir, `${name}.state.json`);
      expect(run(topic, state)).toEqual({ status: 0, codes: [] });
      // The head goes, as retention (or someone who can delete records) would take it.
      await admin.fetchTopicMetadata({ topics: [topic] }); // the admin learns the leader first
      await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: "600" }] });
      results[name] = run(topic, state);
    }
    expect(results.short).toEqual({ status: 0, codes: ["HEAD_TRUNCATED"] });
    expect(results.long?.status).toBe(1);
    expect(results.long?.codes).toContain("GAP");
  });

  it("reports a copy that dropped, duplicated and reordered messages", async () => {
    const damaged = `audit.verify-damaged-${randomUUID()}`;
    const seqIndex = (s: StreamBuilder, seq: number) =>
      all.indexOf(s.messages.find((m) => m.kind === "leaf" && m.seq === seq) as Emitted);
    const drop = seqIndex(a, 500);
    const dup = seqIndex(b, 300);
    const [x, y] = [seqIndex(b, 100), seqIndex(b, 101)];
    const copy = all.filter((_, i) => i !== drop).map(toMessage);
    copy.push(toMessage(all[dup] as Emitted));
    const ix = copy.findIndex((m) => m.value === (all[x] as Emitted).value);
    const iy = copy.findIndex((m) => m.value === (all[y] as Emitted).value);
    [copy[ix], copy[iy]] = [copy[iy] as Message, copy[ix] as Message];
    await publish(damaged, copy);

    const r = await verifyTopic(damaged);
    expect(r.ok).toBe(false);
    expect(codesOf(r, a.origin)).toEqual(["BROKEN_CHAIN", "GAP", "ROOT_MISMATCH"]);
    expect(
      r.streams.find((s) => s.origin === a.origin)?.findings.find((f) => f.code === "GAP")?.seq,
    ).toEqual([500, 500]);
    expect(codesOf(r, b.origin)).toEqual(["DUPLICATE", "REORDER"]);
  });
});
