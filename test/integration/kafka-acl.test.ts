// Least privilege on a broker that authorizes (Kafka's StandardAuthorizer, no access unless an
// ACL grants it), over SASL_SSL: the sidecar publishes with Write and Describe on its topic and
// nothing else; `auditready verify` reads with Read and Describe on the topic and no group ACL
// at all. Before the grants, each fails with an error that says "not authorized", never a hang.
// The witness reads the topic and writes only its own witness topic, which a sidecar's grant
// (LITERAL, on its topic) does not reach.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  Kafka,
  logLevel,
  ResourcePatternTypes,
} from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StreamBuilder } from "../../entry/verify/testing.ts";
import { SidecarError } from "../../sidecar/errors.ts";
import { KafkaSink } from "../../sidecar/sink/kafka.ts";
import { endpoint } from "../infra/endpoints.ts";
import { type KafkaBroker, type SaslSslEndpoint, startKafka } from "../infra/kafka.ts";
import { until } from "./sidecar-harness.ts";

const cli = new URL("../../cli/auditready.ts", import.meta.url).pathname;
let broker: KafkaBroker;
let sasl: SaslSslEndpoint;
let files: { dir: string; username: string; password: string };

beforeAll(async () => {
  broker = await startKafka({
    libs: endpoint("kafkaLibs"),
    heapMb: 384,
    saslSsl: true,
    authorizer: true,
  });
  if (!broker.saslSsl) throw new Error("the broker has no SASL_SSL listener");
  sasl = broker.saslSsl;
  const dir = mkdtempSync(join(tmpdir(), "ar-acl-"));
  files = { dir, username: join(dir, "username"), password: join(dir, "password") };
  writeFileSync(files.username, `${sasl.username}\n`);
  writeFileSync(files.password, sasl.password);
}, 120_000);
afterAll(() => broker?.stop());

/** The tests' admin: the PLAINTEXT listener's ANONYMOUS principal, a super user. */
function superKafka() {
  return new Kafka({
    clientId: "acl-test",
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
  });
}

async function newTopic(name = `acl-${randomUUID()}`): Promise<string> {
  const topic = name;
  const admin = superKafka().admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  await admin.disconnect();
  return topic;
}

/** Grants the SASL user these operations on one topic, and nothing else. */
async function grant(topic: string, operations: AclOperationTypes[]): Promise<void> {
  const admin = superKafka().admin();
  await admin.connect();
  await admin.createAcls({
    acl: operations.map((operation) => ({
      resourceType: AclResourceTypes.TOPIC,
      resourceName: topic,
      resourcePatternType: ResourcePatternTypes.LITERAL,
      principal: `User:${sasl.username}`,
      host: "*",
      operation,
      permissionType: AclPermissionTypes.ALLOW,
    })),
  });
  await admin.disconnect();
}

describe("least-privilege Kafka ACLs over SASL_SSL", () => {
  it("the sidecar publishes with only Write and Describe on its topic; without them: not-authorized", async () => {
    const topic = await newTopic();
    const sink = new KafkaSink(
      {
        brokers: [sasl.bootstrap],
        topic,
        clientId: "acl-test-sidecar",
        compression: "zstd",
        batch: { maxRecords: 1_000, maxBytes: 1_048_576, lingerMs: 5 },
        tls: { caFile: sasl.caFile },
        sasl: {
          mechanism: "scram-sha-512",
          usernameFile: files.username,
          passwordFile: files.password,
        },
      },
      { retryMs: 500 },
    );
    const s = new StreamBuilder({ origin: "acl/ns/pod/app/access.log" }).logs(50);
    const batch = s.messages.map((m) => ({ key: m.key, value: Buffer.from(m.value) }));
    try {
      const denied = await sink.publish(batch).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(denied).toBeInstanceOf(SidecarError);
      expect((denied as SidecarError).kind).toBe("not-authorized");
      expect((denied as SidecarError).message).toContain("not authorized");

      await grant(topic, [AclOperationTypes.WRITE, AclOperationTypes.DESCRIBE]);
      let acked = 0;
      await until("publish once Write and Describe are granted", async () => {
        acked = await sink.publish(batch).then(
          (a) => a.count,
          () => 0,
        );
        return acked > 0;
      });
      expect(acked).toBe(batch.length);
    } finally {
      await sink.close();
    }
  });

  it("auditready verify reads with only Read and Describe on the topic (no group ACL); without them it exits 2 saying why", async () => {
    const topic = await newTopic();
    const s = new StreamBuilder({ origin: "acl/ns/pod/app/access.log" }).logs(300);
    s.push(s.sealer.end("SIGTERM"));
    const producer = superKafka().producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: s.messages.map((m) => ({ key: m.key, value: Buffer.from(m.value) })),
    });
    await producer.disconnect();
    writeFileSync(join(files.dir, "keys.json"), JSON.stringify(s.trustedKeys()));
    const verify = () =>
      spawnSync(
        process.execPath,
        [
          cli,
          "verify",
          "--brokers",
          sasl.bootstrap,
          "--topic",
          topic,
          "--tls-ca",
          sasl.caFile,
          "--sasl-mechanism",
          "scram-sha-256",
          "--sasl-username",
          sasl.username,
          "--sasl-password-file",
          files.password,
          "--keys",
          join(files.dir, "keys.json"),
          "--no-liveness",
          "--quiet",
        ],
        { encoding: "utf8", timeout: 60_000 },
      );

    const denied = verify();
    expect(denied.status).toBe(2);
    expect(denied.stderr).toMatch(/not authorized/i);
    expect(denied.stderr).not.toContain(sasl.password);

    await grant(topic, [AclOperationTypes.READ, AclOperationTypes.DESCRIBE]);
    let r = verify();
    await until("verify once Read and Describe are granted", () => {
      if (r.status !== 0) r = verify();
      return r.status === 0;
    });
    expect(r.stdout).toContain(`ok   ${s.origin}\n    verified seq 0..301`);
  });
  it("a sidecar's grant does not reach the witness topic; the witness needs Read on the topic and Write on its own", async () => {
    const topic = await newTopic();
    const witnessTopic = await newTopic(`${topic}.witness`);
    await grant(topic, [AclOperationTypes.WRITE, AclOperationTypes.DESCRIBE]);
    const sink = (to: string) =>
      new KafkaSink(
        {
          brokers: [sasl.bootstrap],
          topic: to,
          clientId: "acl-test-sidecar",
          compression: "zstd",
          batch: { maxRecords: 1_000, maxBytes: 1_048_576, lingerMs: 5 },
          tls: { caFile: sasl.caFile },
          sasl: {
            mechanism: "scram-sha-512",
            usernameFile: files.username,
            passwordFile: files.password,
          },
        },
        { retryMs: 500 },
      );
    const s = new StreamBuilder({ origin: "acl/ns/pod/app/access.log" }).logs(20);
    s.push(s.sealer.end("SIGTERM"));
    const batch = s.messages.map((m) => ({ key: m.key, value: Buffer.from(m.value) }));
    const data = sink(topic);
    const forger = sink(witnessTopic);
    try {
      let acked = 0;
      await until("the sidecar publishes to its topic", async () => {
        acked = await data.publish(batch).then(
          (a) => a.count,
          () => 0,
        );
        return acked > 0;
      });
      // What a compromised sidecar would need to forge cosignatures: refused.
      const denied = await forger.publish(batch.slice(0, 1)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((denied as SidecarError).kind).toBe("not-authorized");
    } finally {
      await data.close();
      await forger.close();
    }

    // The witness's grants: Read + Describe on the topic, Write + Describe on its own topic.
    await grant(topic, [AclOperationTypes.READ]);
    await grant(witnessTopic, [AclOperationTypes.WRITE, AclOperationTypes.DESCRIBE]);
    writeFileSync(join(files.dir, "keys.json"), JSON.stringify(s.trustedKeys()));
    const witnessKey = join(files.dir, `witness-${randomUUID()}.key`);
    expect(
      spawnSync(process.execPath, [cli, "keys", "generate", "--out", witnessKey], {
        encoding: "utf8",
      }).status,
    ).toBe(0);
    const follow = spawnSync(
      "timeout",
      ["--preserve-status", "-s", "TERM", "8", process.execPath, cli, "verify", "--follow"].concat(
        ["--brokers", sasl.bootstrap, "--topic", topic, "--tls-ca", sasl.caFile],
        ["--sasl-mechanism", "scram-sha-512", "--sasl-username", sasl.username],
        ["--sasl-password-file", files.password, "--keys", join(files.dir, "keys.json")],
        ["--witness-key", witnessKey, "--interval", "1"],
      ),
      { encoding: "utf8", timeout: 30_000 },
    );
    expect(follow.stderr).not.toMatch(/not authorized/i);
    expect(follow.stderr).toContain(`"cosigned":["${s.origin}@22"]`);
    expect(follow.status).toBe(0);
  });
});
