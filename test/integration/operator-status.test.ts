// The controller on the real API server and the real Kafka broker, as its own ServiceAccount:
// coverage status follows pods (including a pod created before the policy, pods owned by a
// ReplicaSet object, and sidecar readiness written by the test in place of a kubelet); the
// policy key Secret and public keys; the topic with its retention settings; the rendered
// sidecar config; rotation; an outdated generation; an invalid spec; Events.
import { createPrivateKey } from "node:crypto";
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { AuditPolicyStatus } from "../../operator/api/policy.ts";
import { SidecarConfig } from "../../sidecar/config/schema.ts";
import { endpoint } from "../infra/endpoints.ts";
import {
  adminConfig,
  createNamespace,
  type Deployment,
  deployOperator,
  installCrd,
  podBody,
  policyBody,
  policyRef,
  readPolicy,
  runId,
  setSidecarReady,
  until,
} from "./operator-support.ts";

const kc = adminConfig();
const core = kc.makeApiClient(CoreV1Api);
const objects = kc.makeApiClient(CustomObjectsApi);
const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const run = runId();
const namespace = `status-${run}`;
let operatorPort = 0;
const topic = `it.status.${run}`;
let deployment: Deployment;

const spec = {
  selector: { matchLabels: { app: "pay" } },
  source: { paths: ["/var/log/app/access*.log"], format: "json" },
  sink: { kafka: { brokers: [endpoint("kafkaBootstrap")], topic } },
  retention: { days: 7, replicas: 1, minInSync: 1 },
};

async function statusWhere(
  name: string,
  ok: (s: AuditPolicyStatus) => boolean,
  timeoutMs = 15_000,
) {
  let last: AuditPolicyStatus | undefined;
  try {
    return await until(
      `status of ${name}`,
      async () => {
        last = (await readPolicy(kc, namespace, name)).status;
        return last && ok(last) ? last : undefined;
      },
      timeoutMs,
      50,
    );
  } catch (err) {
    throw new Error(`${err}; last status: ${JSON.stringify(last)}`);
  }
}

const condition = (s: AuditPolicyStatus, type: string) =>
  s.conditions?.find((c) => c.type === type);

describe("AuditPolicy status, keys and topic from the controller", () => {
  beforeAll(async () => {
    await installCrd(kc);
    deployment = await deployOperator(kc, run);
    operatorPort = (await deployment.start("status-a")).webhookPort;
    await createNamespace(kc, namespace);
    await core.createNamespacedPod({ namespace, body: podBody("old-1", { app: "pay" }) });
    // creationTimestamp has one-second resolution: make "before the policy" unambiguous.
    await new Promise((r) => setTimeout(r, 1_100));
    await objects.createNamespacedCustomObject({
      ...policyRef(namespace),
      body: policyBody("pay", spec, run),
    });
    let n = 0;
    await until(
      "injection in effect",
      async () => {
        const name = `probe-${n++}`;
        const created = await core.createNamespacedPod({
          namespace,
          body: podBody(name, { app: "pay" }),
        });
        await core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 });
        return created.metadata?.annotations?.["auditready.dev/injected"] ? true : undefined;
      },
      30_000,
      200,
    );
  });
  afterAll(async () => {
    await deployment?.cleanup();
  });

  it("lists a pod created before the policy as uncovered: CreatedBeforePolicy", async () => {
    const s = await statusWhere("pay", (s) => s.uncovered?.some((u) => u.pod === "old-1") ?? false);
    expect(s.uncovered).toContainEqual(
      expect.objectContaining({ pod: "old-1", reason: "CreatedBeforePolicy" }),
    );
  });

  it("counts matched / injected / ready pods, including ReplicaSet-owned ones, as pod statuses change", async () => {
    const rs = await kc.makeApiClient(AppsV1Api).createNamespacedReplicaSet({
      namespace,
      body: {
        metadata: { name: "pay-rs" },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: "pay" } },
          template: {
            metadata: { labels: { app: "pay" } },
            spec: { containers: [{ name: "api", image: "registry.invalid/app:1" }] },
          },
        },
      },
    });
    // No controller-manager runs: create the ReplicaSet's pod as it would.
    await core.createNamespacedPod({
      namespace,
      body: podBody(
        "pay-rs-x1",
        { app: "pay" },
        {
          metadata: {
            name: "pay-rs-x1",
            ownerReferences: [
              {
                apiVersion: "apps/v1",
                kind: "ReplicaSet",
                name: "pay-rs",
                uid: rs.metadata?.uid ?? "",
                controller: true,
              },
            ],
          },
        },
      ),
    });
    for (const name of ["a", "b"])
      await core.createNamespacedPod({ namespace, body: podBody(name, { app: "pay" }) });
    let s = await statusWhere("pay", (s) => s.matchedPods === 4);
    expect([s.matchedPods, s.injectedPods, s.readyPods, s.coverage]).toEqual([4, 3, 0, "0/4"]);
    expect(s.uncovered?.map((u) => [u.pod, u.reason])).toEqual([
      ["a", "SidecarNotReady"],
      ["b", "SidecarNotReady"],
      ["old-1", "CreatedBeforePolicy"],
      ["pay-rs-x1", "SidecarNotReady"],
    ]);

    for (const name of ["a", "b", "pay-rs-x1"]) await setSidecarReady(kc, namespace, name, true);
    const changed = Date.now();
    s = await statusWhere("pay", (s) => s.readyPods === 3);
    const convergedMs = Date.now() - changed;
    expect(s.coverage).toBe("3/4");
    expect(convergedMs).toBeLessThan(2_000);

    await setSidecarReady(kc, namespace, "b", false);
    s = await statusWhere("pay", (s) => s.readyPods === 2);
    expect(s.coverage).toBe("2/4");
    expect(s.uncovered).toContainEqual(
      expect.objectContaining({ pod: "b", reason: "SidecarNotReady" }),
    );
    expect(condition(s, "Ready")).toMatchObject({ status: "False", reason: "PodsUncovered" });

    await core.deleteNamespacedPod({ namespace, name: "old-1", gracePeriodSeconds: 0 });
    await setSidecarReady(kc, namespace, "b", true);
    s = await statusWhere("pay", (s) => s.coverage === "3/3");
    expect(condition(s, "Ready")).toMatchObject({ status: "True", reason: "Covered" });
    expect(s.observedGeneration).toBe(1);
  });

  it("keeps the policy key in a Secret in its own namespace, none in the policy's, and publishes the public half", async () => {
    const s = await statusWhere("pay", (s) => (s.signingKeys?.length ?? 0) > 0);
    const secret = await core.readNamespacedSecret({
      namespace: deployment.namespace,
      name: `auditready-key-${namespace}-pay`,
    });
    expect(secret.metadata?.labels).toMatchObject({
      "auditready.dev/policy": "pay",
      "auditready.dev/policy-namespace": namespace,
    });
    // No Secret in the workload's namespace holds a private key.
    const inPolicyNs = await core.listNamespacedSecret({ namespace });
    expect(inPolicyNs.items.filter((x) => x.data?.["policy.key"] !== undefined)).toEqual([]);
    const pem = Buffer.from(secret.data?.["policy.key"] ?? "", "base64").toString();
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const key = createPrivateKey(pem);
    expect(key.asymmetricKeyType).toBe("ed25519");
    const x = Buffer.from(String(key.export({ format: "jwk" }).x), "base64url");
    expect(s.signingKeys?.[0]?.publicKey).toBe(x.toString("base64"));
    const cm = await core.readNamespacedConfigMap({ namespace, name: "auditready-pay-keys" });
    expect(JSON.parse(cm.data?.["keys.json"] ?? "[]")).toEqual(s.signingKeys);
    expect(condition(s, "KeyReady")).toMatchObject({ status: "True", reason: "KeyAvailable" });
  });

  it("renders the sidecar config the sidecar's own schema accepts", async () => {
    const cm = await until("config map", () =>
      core.readNamespacedConfigMap({ namespace, name: "auditready-pay-config" }),
    );
    const config = SidecarConfig.parse(parse(cm.data?.["config.yaml"] ?? ""));
    expect(config.sources).toEqual([{ container: "api", paths: ["/var/log/app/api/access*.log"] }]);
    expect(config.sink.kafka?.topic).toBe(topic);
    expect(config.signing.policyKeyFile).toBeUndefined();
    expect(config.signing.certify).toMatchObject({
      url: `https://127.0.0.1:${operatorPort}/certify`,
      caFile: "/etc/auditready/certify-ca.crt",
      tokenFile: "/var/run/secrets/auditready.dev/token",
    });
    expect(cm.data?.["certify-ca.crt"]).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(config.stateDir).toBe("/var/log/app/.auditready");
  });

  it("creates the topic on the real broker with the policy's retention and min.insync.replicas", async () => {
    const s = await statusWhere("pay", (s) => condition(s, "TopicReady")?.status === "True");
    expect(condition(s, "TopicReady")?.reason).toBe("TopicConfigured");
    const admin = new Kafka({
      brokers: [endpoint("kafkaBootstrap")],
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: topic, configNames: ["retention.ms", "min.insync.replicas"] }],
      });
      const config = Object.fromEntries(
        described.resources[0]?.configEntries.map((e) => [e.configName, e.configValue]) ?? [],
      );
      expect(config).toEqual({
        "retention.ms": String(7 * 86_400_000),
        "min.insync.replicas": "1",
      });
    } finally {
      await admin.disconnect();
    }
  });

  it("reports TopicReady=False with the broker's reason when the topic cannot be created", async () => {
    await objects.createNamespacedCustomObject({
      ...policyRef(namespace),
      body: policyBody(
        "too-many-replicas",
        {
          ...spec,
          selector: { matchLabels: { app: "nothing" } },
          sink: { kafka: { brokers: [endpoint("kafkaBootstrap")], topic: `${topic}.r3` } },
          retention: { days: 1, replicas: 3, minInSync: 2 },
        },
        run,
      ),
    });
    const s = await statusWhere(
      "too-many-replicas",
      (s) => condition(s, "TopicReady")?.status === "False",
    );
    expect(condition(s, "TopicReady")).toMatchObject({ reason: "CreateFailed" });
    expect(condition(s, "TopicReady")?.message).toMatch(
      /replication factor 3, min\.insync\.replicas 2; 1 broker\(s\) available\): .*Replication-factor is invalid/,
    );
    expect(condition(s, "Ready")).toMatchObject({ status: "False", reason: "TopicNotReady" });
  });

  it("keeps pods covered across a change the sidecar reloads, and lists them OutdatedGeneration after one that reshapes the pod", async () => {
    const patchSpec = (spec: Record<string, unknown>) =>
      objects.patchNamespacedCustomObject(
        { ...policyRef(namespace), name: "pay", body: { spec } },
        merge,
      );
    await patchSpec({ signing: { heartbeatSeconds: 10 } });
    let s = await statusWhere("pay", (s) => s.observedGeneration === 2);
    expect(s.coverage).toBe("3/3");

    await patchSpec({ sidecar: { resources: { limits: { memory: "512Mi" } } } });
    s = await statusWhere(
      "pay",
      (s) => s.observedGeneration === 3 && (s.uncovered?.length ?? 0) === 3,
    );
    expect(s.uncovered?.map((u) => u.reason)).toEqual([
      "OutdatedGeneration",
      "OutdatedGeneration",
      "OutdatedGeneration",
    ]);
    const c = await until("new generation injected", async () => {
      await core
        .deleteNamespacedPod({ namespace, name: "c", gracePeriodSeconds: 0 })
        .catch(() => undefined);
      const pod = await core.createNamespacedPod({ namespace, body: podBody("c", { app: "pay" }) });
      return pod.metadata?.annotations?.["auditready.dev/injected"] === "pay@3" ? pod : undefined;
    });
    expect(c.spec?.initContainers?.[0]?.resources?.limits?.memory).toBe("512Mi");
  });

  it("rotates the key on request and keeps the retired public key", async () => {
    const before = (await statusWhere("pay", (s) => (s.signingKeys?.length ?? 0) === 1))
      .signingKeys?.[0];
    await objects.patchNamespacedCustomObject(
      {
        ...policyRef(namespace),
        name: "pay",
        body: { spec: { signing: { keyRotation: "2026-11-23" } } },
      },
      merge,
    );
    const s = await statusWhere("pay", (s) => (s.signingKeys?.length ?? 0) === 2);
    expect(s.signingKeys?.[1]).toMatchObject({
      keyId: before?.keyId,
      notBefore: before?.notBefore,
    });
    expect(s.signingKeys?.[1]?.notAfter).toBeDefined();
    expect(s.signingKeys?.[0]?.keyId).not.toBe(before?.keyId);
    expect(s.signingKeys?.[0]?.notAfter).toBeUndefined();
  });

  it("reports a spec only code can reject (an invalid regex) as Ready=False InvalidSpec naming the field", async () => {
    await objects.createNamespacedCustomObject({
      ...policyRef(namespace),
      body: policyBody(
        "bad-regex",
        {
          ...spec,
          source: { paths: ["/l/a.log"], format: "regex", pattern: "(?<a>[" },
        },
        run,
      ),
    });
    const s = await statusWhere(
      "bad-regex",
      (s) => condition(s, "Ready")?.reason === "InvalidSpec",
    );
    expect(condition(s, "Ready")?.message).toMatch(
      /^spec\.source\.pattern: invalid regular expression/,
    );
  });

  it("records Events on the policy", async () => {
    const events = await until("events", async () => {
      const list = await core.listNamespacedEvent({
        namespace,
        fieldSelector: "involvedObject.name=pay",
      });
      const reasons = list.items.map((e) => e.reason);
      return reasons.includes("KeyCreated") &&
        reasons.includes("KeyRotated") &&
        reasons.includes("Covered")
        ? reasons
        : undefined;
    });
    expect(events).toEqual(
      expect.arrayContaining([
        "KeyCreated",
        "TopicConfigured",
        "Registered",
        "PodsUncovered",
        "Covered",
        "KeyRotated",
      ]),
    );
  });
});
