// Proves the integration broker is a real Apache Kafka 4 (KRaft) and that kafkajs speaks to it
// on both listeners: ordering per key at volume, topic configs kept, SASL_SSL enforced.

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigResourceTypes, Kafka, type KafkaConfig, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { endpoint } from "../infra/endpoints.ts";

const quiet = { logLevel: logLevel.NOTHING } satisfies Partial<KafkaConfig>;
const plain = () =>
  new Kafka({ clientId: "smoke", brokers: [endpoint("kafkaBootstrap")], ...quiet });
const secure = (password = endpoint("kafkaSaslPassword")) =>
  new Kafka({
    clientId: "smoke-sasl",
    brokers: [endpoint("kafkaSaslSslBootstrap")],
    ssl: { ca: [readFileSync(endpoint("kafkaCaFile"), "utf8")] },
    sasl: { mechanism: "scram-sha-512", username: endpoint("kafkaSaslUsername"), password },
    retry: { retries: 0 },
    ...quiet,
  });

describe("the integration broker", () => {
  const admin = plain().admin();
  beforeAll(() => admin.connect());
  afterAll(() => admin.disconnect());

  it("is an Apache Kafka JVM running in KRaft combined mode", async () => {
    const cmdline = readFileSync(`/proc/${endpoint("kafkaPid")}/cmdline`, "utf8").split("\0");
    expect(cmdline[0]).toMatch(/java$/);
    expect(cmdline).toContain("kafka.Kafka");
    const [broker] = (
      await admin.describeConfigs({
        resources: [
          { type: ConfigResourceTypes.BROKER, name: "1", configNames: ["process.roles"] },
        ],
        includeSynonyms: false,
      })
    ).resources;
    expect(broker?.configEntries.find((e) => e.configName === "process.roles")?.configValue).toBe(
      "broker,controller",
    );
    expect(readFileSync(endpoint("kafkaLog"), "utf8")).toMatch(/Kafka version: 4\.\d+\.\d+/);
  });

  it("keeps a topic's retention.ms and reports it back", async () => {
    const topic = `smoke-retention-${randomUUID()}`;
    const created = await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: 3,
          configEntries: [{ name: "retention.ms", value: "34560000000" }],
        },
      ],
      waitForLeaders: true,
    });
    expect(created).toBe(true);
    const { resources } = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ["retention.ms"] }],
      includeSynonyms: false,
    });
    const entry = resources[0]?.configEntries.find((e) => e.configName === "retention.ms");
    expect(entry?.configValue).toBe("34560000000");
    expect(entry?.isDefault).toBe(false);
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta.topics[0]?.partitions).toHaveLength(3);
  });

  it("delivers 10,000 keyed messages back in order per key", async () => {
    const topic = `smoke-order-${randomUUID()}`;
    const keys = 20;
    const perKey = 500;
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
    const kafka = plain();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    // Interleave keys so order per key is not an accident of batching one key at a time.
    for (let batch = 0; batch < perKey; batch += 50) {
      const messages = [];
      for (let i = batch; i < batch + 50; i++) {
        for (let k = 0; k < keys; k++) messages.push({ key: `key-${k}`, value: String(i) });
      }
      await producer.send({ topic, acks: -1, messages });
    }
    await producer.disconnect();

    const seen = new Map<string, number[]>();
    let total = 0;
    const consumer = kafka.consumer({ groupId: `smoke-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          const key = message.key?.toString() ?? "";
          const list = seen.get(key) ?? [];
          list.push(Number(message.value?.toString()));
          seen.set(key, list);
          if (++total === keys * perKey) resolve();
        },
      });
    });
    await done;
    await consumer.disconnect();

    expect(total).toBe(keys * perKey);
    expect(seen.size).toBe(keys);
    const inOrder = Array.from({ length: perKey }, (_, i) => i);
    for (const [key, values] of seen) expect(values, key).toEqual(inOrder);
  });

  it("accepts SCRAM-SHA-512 over TLS on the SASL_SSL listener", async () => {
    const topic = `smoke-sasl-${randomUUID()}`;
    await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
    const producer = secure().producer();
    await producer.connect();
    const [ack] = await producer.send({
      topic,
      acks: -1,
      messages: [{ key: "k", value: "over TLS" }],
    });
    await producer.disconnect();
    expect(ack?.errorCode).toBe(0);
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets[0]?.high).toBe("1");
  });

  it("refuses a wrong SASL password", async () => {
    const producer = secure("not-the-password").producer();
    await expect(producer.connect()).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/i);
  });
});
