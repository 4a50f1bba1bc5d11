// The Kafka sink against the real broker: acknowledged batches come back in order per
// origin, TLS + SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) from mounted files on the SASL_SSL
// listener, and each failure a user will meet (wrong password, wrong CA, missing topic, no
// broker) arrives as a typed error with its kind, never as a crash, and heals when fixed.
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SidecarError } from "../../sidecar/errors.ts";
import { KafkaSink, type KafkaSinkSettings } from "../../sidecar/sink/kafka.ts";
import type { SinkMessage } from "../../sidecar/sink/sink.ts";
import { endpoint } from "../infra/endpoints.ts";
import { freePort } from "../infra/process.ts";

const admin = new Kafka({
  clientId: "sidecar-kafka-test",
  brokers: [endpoint("kafkaBootstrap")],
  logLevel: logLevel.NOTHING,
}).admin();

async function newTopic(partitions = 3): Promise<string> {
  const topic = `sidecar-${randomUUID()}`;
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions }],
    waitForLeaders: true,
  });
  return topic;
}

function settings(topic: string, extra: Partial<KafkaSinkSettings> = {}): KafkaSinkSettings {
  return {
    brokers: [endpoint("kafkaBootstrap")],
    topic,
    clientId: "auditready-sidecar-test",
    compression: "gzip",
    batch: { maxRecords: 2_000, maxBytes: 1_048_576, lingerMs: 20 },
    ...extra,
  };
}

async function consumeAll(topic: string, expected: number) {
  const consumer = new Kafka({
    clientId: "sidecar-kafka-test-consumer",
    brokers: [endpoint("kafkaBootstrap")],
    logLevel: logLevel.NOTHING,
  }).consumer({ groupId: `g-${randomUUID()}` });
  const got: { key: string; value: string; partition: number }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message, partition }) => {
        got.push({
          key: message.key?.toString() ?? "",
          value: message.value?.toString() ?? "",
          partition,
        });
        if (got.length === expected) resolve();
      },
    });
  });
  await consumer.disconnect();
  return got;
}

/**
 * The compression codec of every record batch the broker stored for a topic's partition 0, read
 * from its log segment (batch header: base offset 8 bytes, length 4, leader epoch 4, magic 1,
 * CRC 4, attributes 2, whose low 3 bits are the codec: 1 gzip, 4 zstd).
 */
function storedCodecs(topic: string): Set<number> {
  const log = readFileSync(
    join(endpoint("kafkaDataDir"), `${topic}-0`, "00000000000000000000.log"),
  );
  const codecs = new Set<number>();
  for (let at = 0; at + 23 <= log.length; at += 12 + log.readInt32BE(at + 8)) {
    codecs.add(log.readInt16BE(at + 21) & 7);
  }
  return codecs;
}

function saslFiles(password: string) {
  const dir = mkdtempSync(join(tmpdir(), "ar-sasl-"));
  writeFileSync(join(dir, "username"), `${endpoint("kafkaSaslUsername")}\n`);
  writeFileSync(join(dir, "password"), password);
  return { usernameFile: join(dir, "username"), passwordFile: join(dir, "password") };
}

const record = (origin: string, n: number): SinkMessage => ({
  key: origin,
  value: Buffer.from(JSON.stringify({ origin, seq: n })),
});

describe("sidecar Kafka sink", () => {
  beforeAll(() => admin.connect());
  afterAll(() => admin.disconnect());

  it("acknowledges batches only once written, and keeps each origin's order", async () => {
    const topic = await newTopic(3);
    const sink = new KafkaSink(settings(topic));
    const origins = ["c/ns/pod-a/app/access.log", "c/ns/pod-b/app/access.log", "c/ns/pod-c/x/y"];
    const perOrigin = 5_000;
    for (let from = 0; from < perOrigin; from += 500) {
      const batch: SinkMessage[] = [];
      for (let n = from; n < from + 500; n++) for (const o of origins) batch.push(record(o, n));
      const ack = await sink.publish(batch);
      expect(ack).toMatchObject({ where: "kafka", count: 1_500 });
    }
    await sink.close();
    // Acknowledged means on the broker: the high watermarks already hold every record.
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.reduce((n, p) => n + Number(p.high), 0)).toBe(origins.length * perOrigin);

    const got = await consumeAll(topic, origins.length * perOrigin);
    for (const o of origins) {
      const mine = got.filter((m) => m.key === o);
      expect(new Set(mine.map((m) => m.partition)).size).toBe(1);
      expect(mine.map((m) => JSON.parse(m.value).seq)).toEqual(
        Array.from({ length: perOrigin }, (_, i) => i),
      );
    }
  });

  for (const [compression, codec] of [
    ["zstd", 4],
    ["gzip", 1],
  ] as const) {
    it(`stores ${compression}-compressed batches that consumers read back`, async () => {
      const topic = await newTopic(1);
      const sink = new KafkaSink(settings(topic, { compression }));
      const batch = Array.from({ length: 3_000 }, (_, n) => record("c/ns/pod/app/log", n));
      await sink.publish(batch);
      await sink.close();
      expect(storedCodecs(topic)).toEqual(new Set([codec]));
      // The consumer in this process reads zstd because kafka.ts registered the codec.
      const got = await consumeAll(topic, batch.length);
      expect(got.map((m) => m.value)).toEqual(batch.map((m) => m.value.toString()));
    });
  }

  for (const mechanism of ["plain", "scram-sha-256", "scram-sha-512"] as const) {
    it(`publishes over TLS with SASL ${mechanism} from mounted files`, async () => {
      const topic = await newTopic(1);
      const sink = new KafkaSink(
        settings(topic, {
          brokers: [endpoint("kafkaSaslSslBootstrap")],
          tls: { caFile: endpoint("kafkaCaFile") },
          sasl: { mechanism, ...saslFiles(`${endpoint("kafkaSaslPassword")}\n`) },
        }),
      );
      await sink.publish([record("o", 1), record("o", 2)]);
      await sink.close();
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets[0]?.high).toBe("2");
    });
  }

  it("reports a wrong password as auth-failed (not retriable), and heals when the Secret is fixed", async () => {
    const topic = await newTopic(1);
    const files = saslFiles("not-the-password");
    const logged: string[] = [];
    const sink = new KafkaSink(
      settings(topic, {
        brokers: [endpoint("kafkaSaslSslBootstrap")],
        tls: { caFile: endpoint("kafkaCaFile") },
        sasl: { mechanism: "scram-sha-512", ...files },
      }),
      { log: (_level, message) => logged.push(message) },
    );
    const err = await sink.publish([record("o", 1)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SidecarError);
    expect(err).toMatchObject({ kind: "auth-failed", retriable: false });
    expect((err as Error).message).toMatch(/SASL authentication failed/);
    expect((err as Error).message).not.toContain("not-the-password");
    expect(logged.join("\n")).not.toContain("not-the-password");

    writeFileSync(files.passwordFile, endpoint("kafkaSaslPassword")); // the Secret is fixed
    await expect(sink.publish([record("o", 2)])).resolves.toMatchObject({ where: "kafka" });
    await sink.close();
  });

  it("reports a CA that did not sign the broker as a tls error", async () => {
    const topic = await newTopic(1);
    const dir = mkdtempSync(join(tmpdir(), "ar-ca-"));
    const { CertificateAuthority } = await import("../../operator/webhook/pki.ts");
    writeFileSync(join(dir, "ca.pem"), CertificateAuthority.create("some-other-ca").certPem);
    const sink = new KafkaSink(
      settings(topic, {
        brokers: [endpoint("kafkaSaslSslBootstrap")],
        tls: { caFile: join(dir, "ca.pem") },
        sasl: { mechanism: "scram-sha-512", ...saslFiles(endpoint("kafkaSaslPassword")) },
      }),
    );
    await expect(sink.publish([record("o", 1)])).rejects.toMatchObject({
      kind: "tls",
      retriable: false,
    });
    await sink.close();
  });

  it("splits a batch the broker refuses as too large, keeping the order", async () => {
    const topic = await newTopic(1);
    const sink = new KafkaSink(settings(topic, { compression: "none" }));
    const big = (n: number): SinkMessage => ({
      key: "o",
      value: Buffer.from(JSON.stringify({ seq: n, pad: "z".repeat(300_000) })),
    });
    // 8 × 300 kB uncompressed: far above the broker's 1 MiB message.max.bytes as one batch.
    const ack = await sink.publish(Array.from({ length: 8 }, (_, n) => big(n)));
    await sink.close();
    expect(ack.count).toBe(8);
    const got = await consumeAll(topic, 8);
    expect(got.map((m) => JSON.parse(m.value).seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it("reports a missing topic as unknown-topic (retriable: the operator may create it)", async () => {
    const sink = new KafkaSink(settings(`sidecar-missing-${randomUUID()}`), { retryMs: 400 });
    await expect(sink.publish([record("o", 1)])).rejects.toMatchObject({
      kind: "unknown-topic",
      retriable: true,
    });
    await sink.close();
  });

  it("reports a broker that is not there as unreachable (retriable)", async () => {
    const port = await freePort();
    const sink = new KafkaSink(settings("any", { brokers: [`127.0.0.1:${port}`] }), {
      retryMs: 400,
      connectionTimeoutMs: 500,
    });
    await expect(sink.publish([record("o", 1)])).rejects.toMatchObject({
      kind: "unreachable",
      retriable: true,
    });
    await sink.close();
  });
});
