// Topic management over TLS + SASL/SCRAM against the real broker's SASL_SSL listener, with the
// credentials taken from the policy's own tlsSecret / saslSecret (the ones its sidecars mount);
// a missing Secret is reported as TopicReady=False CredentialsUnavailable, naming it.
import { readFileSync } from "node:fs";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditPolicyStatus } from "../../operator/api/policy.ts";
import { endpoint } from "../infra/endpoints.ts";
import {
  adminConfig,
  createNamespace,
  type Deployment,
  deployOperator,
  installCrd,
  policyBody,
  policyRef,
  readPolicy,
  runId,
  until,
} from "./operator-support.ts";

const kc = adminConfig();
const run = runId();
const namespace = `topic-sasl-${run}`;
const topic = `it.sasl.${run}`;
let deployment: Deployment;

const spec = (saslSecret: string) => ({
  selector: { matchLabels: { app: "p" } },
  source: { paths: ["/logs/access.log"], format: "json" },
  sink: {
    kafka: {
      brokers: [endpoint("kafkaSaslSslBootstrap")],
      topic,
      tlsSecret: "kafka-tls",
      saslSecret,
      saslMechanism: "scram-sha-512",
    },
  },
  retention: { days: 30, replicas: 1, minInSync: 1 },
});

async function topicReady(name: string) {
  return until(`TopicReady decided for ${name}`, async () => {
    const s = (await readPolicy(kc, namespace, name)).status as AuditPolicyStatus | undefined;
    const c = s?.conditions?.find((x) => x.type === "TopicReady");
    return c && c.status !== "Unknown" ? c : undefined;
  });
}

describe("topics on a TLS + SASL listener", () => {
  beforeAll(async () => {
    await installCrd(kc);
    deployment = await deployOperator(kc, run);
    await deployment.start("sasl-a");
    await createNamespace(kc, namespace);
    const core = kc.makeApiClient(CoreV1Api);
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: "kafka-tls" },
        data: { "ca.crt": b64(readFileSync(endpoint("kafkaCaFile"), "utf8")) },
      },
    });
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: "kafka-sasl" },
        data: {
          username: b64(endpoint("kafkaSaslUsername")),
          password: b64(endpoint("kafkaSaslPassword")),
        },
      },
    });
    const objects = kc.makeApiClient(CustomObjectsApi);
    await objects.createNamespacedCustomObject({
      ...policyRef(namespace),
      body: policyBody("p", spec("kafka-sasl"), run),
    });
    await objects.createNamespacedCustomObject({
      ...policyRef(namespace),
      body: policyBody("no-creds", spec("nope"), run),
    });
  });
  afterAll(async () => {
    await deployment?.cleanup();
  });

  it("creates the topic with the policy's Secrets and reports TopicReady", async () => {
    expect(await topicReady("p")).toMatchObject({ status: "True", reason: "TopicConfigured" });
    const admin = new Kafka({
      brokers: [endpoint("kafkaSaslSslBootstrap")],
      ssl: { ca: [readFileSync(endpoint("kafkaCaFile"), "utf8")] },
      sasl: {
        mechanism: "scram-sha-512",
        username: endpoint("kafkaSaslUsername"),
        password: endpoint("kafkaSaslPassword"),
      },
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      const d = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: topic, configNames: ["retention.ms"] }],
      });
      expect(d.resources[0]?.configEntries[0]?.configValue).toBe(String(30 * 86_400_000));
    } finally {
      await admin.disconnect();
    }
  });

  it("reports a missing credentials Secret by name", async () => {
    expect(await topicReady("no-creds")).toMatchObject({
      status: "False",
      reason: "CredentialsUnavailable",
      message: "Secret nope does not exist",
    });
  });
});
