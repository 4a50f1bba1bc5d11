// `auditready verify --status NS/NAME` writes the run's result to the AuditPolicy's
// status.integrity on the real API server, with only the rights the README's verifier Role
// grants; the operator's status writes never undo it.
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  RbacAuthorizationV1Api,
} from "@kubernetes/client-node";
import { Kafka, logLevel } from "kafkajs";
import { pino } from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { Clock, StreamBuilder } from "../../entry/verify/testing.ts";
import { writeStatus } from "../../operator/controller/status.ts";
import { publicKeysConfigMapName } from "../../operator/names.ts";
import { endpoint } from "../infra/endpoints.ts";
import { serviceAccountKubeconfig } from "../infra/kube.ts";
import {
  adminConfig,
  createNamespace,
  installCrd,
  minimalSpec,
  policyBody,
  policyRef,
  readPolicy,
  runId,
  until,
} from "./operator-support.ts";

const cli = new URL("../../cli/auditready.ts", import.meta.url).pathname;
const namespace = `verify-status-${runId()}`;
const policy = "payments";
const dir = mkdtempSync(join(tmpdir(), "auditready-verify-status-"));

const b = new StreamBuilder().logs(40);
b.push(b.sealer.end("SIGTERM"));
const intact = join(dir, "intact.jsonl");
const damaged = join(dir, "damaged.jsonl");
writeFileSync(intact, `${b.messages.map((m) => m.value.toString()).join("\n")}\n`);
const dropped = b.messages.findIndex((m) => m.kind === "leaf" && m.seq === 7);
writeFileSync(
  damaged,
  `${b.messages
    .filter((_, i) => i !== dropped)
    .map((m) => m.value.toString())
    .join("\n")}\n`,
);
const keys = JSON.stringify([
  { keyId: b.policyKey.keyId, publicKey: b.policyKey.publicKey.toString("base64") },
]);

let kc: KubeConfig;
let verifierKubeconfig: string;
let strangerKubeconfig: string;

function verify(file: string, kubeconfig: string, status = `${namespace}/${policy}`) {
  return spawnSync(
    process.execPath,
    [
      cli,
      "verify",
      "--file",
      file,
      "--keys",
      `configmap:${namespace}/${publicKeysConfigMapName(policy)}`,
      "--kubeconfig",
      kubeconfig,
      "--status",
      status,
      "--quiet",
    ],
    { encoding: "utf8" },
  );
}

const integrity = async () => (await readPolicy(kc, namespace, policy)).status?.integrity;

describe("auditready verify --status", () => {
  beforeAll(async () => {
    kc = adminConfig();
    await installCrd(kc);
    await createNamespace(kc, namespace);
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      ...policyRef(namespace),
      body: policyBody(policy, minimalSpec("payments", "audit.payments")),
    });
    await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: publicKeysConfigMapName(policy) }, data: { "keys.json": keys } },
    });
    // The README's verifier Role: read the public keys, patch this policy's status. Nothing else.
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: "auditready-verifier" },
        rules: [
          {
            apiGroups: [""],
            resources: ["configmaps"],
            resourceNames: [publicKeysConfigMapName(policy)],
            verbs: ["get"],
          },
          {
            apiGroups: ["auditready.dev"],
            resources: ["auditpolicies/status"],
            resourceNames: [policy],
            verbs: ["patch"],
          },
        ],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: "auditready-verifier" },
        roleRef: {
          apiGroup: "rbac.authorization.k8s.io",
          kind: "Role",
          name: "auditready-verifier",
        },
        subjects: [{ kind: "ServiceAccount", name: "verifier", namespace }],
      },
    });
    verifierKubeconfig = await serviceAccountKubeconfig(
      endpoint("kubeconfig"),
      namespace,
      "verifier",
    );
    strangerKubeconfig = await serviceAccountKubeconfig(
      endpoint("kubeconfig"),
      namespace,
      "stranger",
    );
  }, 60_000);

  it("writes Verified with the counts for an intact ledger, with only the verifier Role", async () => {
    const r = verify(intact, verifierKubeconfig);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const now = await integrity();
    expect(now).toMatchObject({
      state: "Verified",
      source: `file ${intact}`,
      messages: b.messages.length,
      streams: 1,
      errors: 0,
      gaps: 0,
      badSignatures: 0,
      silentStreams: 0,
      message: "1 stream(s) verified, 0 warning(s)",
    });
    expect(Date.now() - Date.parse(now?.lastVerified ?? "")).toBeLessThan(60_000);
  }, 60_000);

  it("writes Failing with what failed for a damaged ledger, and exits 1", async () => {
    const r = verify(damaged, verifierKubeconfig);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^NOT VERIFIED/m);
    const now = await integrity();
    expect(now).toMatchObject({ state: "Failing", gaps: 1, streams: 1 });
    expect(now?.errors).toBeGreaterThan(0);
    expect(now?.message).toMatch(/^errors: .*GAP x1/);
  }, 60_000);

  it("keeps the report and exits 2 with a clear reason when the status cannot be written", async () => {
    const missing = verify(intact, endpoint("kubeconfig"), `${namespace}/nope`);
    expect(missing.status).toBe(2);
    expect(missing.stdout).toMatch(/^VERIFIED: 1 stream/m);
    expect(missing.stderr).toMatch(/could not write status\.integrity: 404 no such AuditPolicy/);

    // The stranger may read the keys (the verifier Role's first rule alone), not patch status.
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: "keys-reader" },
        rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: "stranger-reads-keys" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "keys-reader" },
        subjects: [{ kind: "ServiceAccount", name: "stranger", namespace }],
      },
    });
    // A new RoleBinding reaches the API server's authorizer through its cache: wait for it.
    const forbidden = await until("the stranger can read the keys", async () => {
      const r = verify(intact, strangerKubeconfig);
      if (/--keys .*403/.test(r.stderr)) throw new Error(r.stderr);
      return r;
    });
    expect(forbidden.status).toBe(2);
    expect(forbidden.stdout).toMatch(/^VERIFIED: 1 stream/m);
    expect(forbidden.stderr).toMatch(
      /403 forbidden: the verifier needs patch on auditpolicies\/status/,
    );
    expect(forbidden.stderr).not.toMatch(/\n\s+at /); // a clear line, no stack trace
  }, 60_000);

  it("is never undone by an operator status write from a stale cache", async () => {
    const before = await integrity();
    expect(before?.state).toBe("Failing");
    const raw = (await readPolicy(kc, namespace, policy)) as unknown as {
      metadata: { name: string; namespace: string; uid: string };
      status?: Record<string, unknown>;
    };
    // What an operator holding an older copy would write: its own status with the old block.
    await writeStatus(
      {
        core: kc.makeApiClient(CoreV1Api),
        objects: kc.makeApiClient(CustomObjectsApi),
        identity: "test",
        log: pino({ level: "silent" }),
      },
      { metadata: raw.metadata, status: { ...raw.status, integrity: { state: "Unverified" } } },
      { coverage: "0/0", matchedPods: 0, integrity: { state: "Unverified" } },
      [],
    );
    const after = await readPolicy(kc, namespace, policy);
    expect(after.status?.coverage).toBe("0/0");
    expect(after.status?.integrity).toEqual(before);
  }, 60_000);
  it("verify --follow (the witness) keeps it current: Verified, then STALE once the stream falls silent", async () => {
    // A live stream of this policy's key, checkpoints now, a heartbeat every 5 s, then silence.
    const live = new StreamBuilder({
      policyKey: b.policyKey,
      clock: new Clock(Date.now()),
      seal: { heartbeatMs: 5_000 },
    }).logs(30);
    const topic = `audit.witness-status-${randomUUID()}`;
    const kafka = new Kafka({ brokers: [endpoint("kafkaBootstrap")], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await admin.connect();
    await producer.connect();
    try {
      await admin.createTopics({
        topics: [{ topic }, { topic: `${topic}.witness` }],
        waitForLeaders: true,
      });
      await producer.send({
        topic,
        acks: -1,
        messages: live.messages.map((m) => ({ key: m.key, value: m.value })),
      });
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
    const witnessKey = join(dir, "witness.key");
    expect(spawnSync(process.execPath, [cli, "keys", "generate", "--out", witnessKey]).status).toBe(
      0,
    );
    const witness = spawn(
      process.execPath,
      [cli, "verify", "--follow", "--brokers", endpoint("kafkaBootstrap"), "--topic", topic].concat(
        ["--keys", `configmap:${namespace}/${publicKeysConfigMapName(policy)}`],
        ["--kubeconfig", verifierKubeconfig, "--status", `${namespace}/${policy}`],
        ["--witness-key", witnessKey, "--grace", "5", "--interval", "0.5", "--status-every", "0"],
      ),
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let log = "";
    witness.stderr?.on("data", (d: Buffer) => {
      log += d.toString();
    });
    const exited = new Promise<number | null>((r) => witness.once("exit", (code) => r(code)));
    try {
      const source = `topic ${topic} (witness`;
      const verified = await until(
        "the witness writes Verified",
        async () => {
          const i = await integrity();
          return i?.source?.startsWith(source) && i.state === "Verified" ? i : undefined;
        },
        10_000,
      ).catch((err: Error) => Promise.reject(new Error(`${err.message}\n${log}`)));
      expect(verified).toMatchObject({ streams: 1, errors: 0, silentStreams: 0 });
      const stale = await until(
        "the witness writes STALE once heartbeat + grace have passed",
        async () => {
          const i = await integrity();
          return i?.source?.startsWith(source) && i.silentStreams === 1 ? i : undefined;
        },
        30_000,
      ).catch((err: Error) => Promise.reject(new Error(`${err.message}\n${log}`)));
      expect(stale).toMatchObject({ state: "Failing", errors: 1, message: "errors: STALE x1" });
    } finally {
      witness.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  }, 90_000);

  it("two witness replicas sharing the partitions each write a shard, and the status sums both", async () => {
    // The chart's witness Role also reads the status (the other replicas' shards).
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: "auditready-witness-read" },
        rules: [
          {
            apiGroups: ["auditready.dev"],
            resources: ["auditpolicies/status"],
            resourceNames: [policy],
            verbs: ["get"],
          },
        ],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: "auditready-witness-read" },
        roleRef: {
          apiGroup: "rbac.authorization.k8s.io",
          kind: "Role",
          name: "auditready-witness-read",
        },
        subjects: [{ kind: "ServiceAccount", name: "verifier", namespace }],
      },
    });
    // Four pods' streams over 3 partitions: both replicas get some.
    const streams = [0, 1, 2, 3].map((i) =>
      new StreamBuilder({
        policyKey: b.policyKey,
        origin: `it/payments/api-${i}/api/var/log/app/access.log`,
        clock: new Clock(Date.now()),
        seal: { heartbeatMs: 60_000 },
      }).logs(10),
    );
    const topic = `audit.witness-shards-${randomUUID()}`;
    const kafka = new Kafka({ brokers: [endpoint("kafkaBootstrap")], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await admin.connect();
    await producer.connect();
    try {
      await admin.createTopics({
        topics: [{ topic, numPartitions: 3 }, { topic: `${topic}.witness` }],
        waitForLeaders: true,
      });
      await producer.send({
        topic,
        acks: -1,
        messages: streams.flatMap((s) => s.messages.map((m) => ({ key: m.key, value: m.value }))),
      });
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
    const witnessKey = join(dir, "witness-shards.key");
    expect(spawnSync(process.execPath, [cli, "keys", "generate", "--out", witnessKey]).status).toBe(
      0,
    );
    let log = "";
    const replicas = [0, 1].map((i) => {
      const w = spawn(
        process.execPath,
        [
          cli,
          "verify",
          "--follow",
          "--brokers",
          endpoint("kafkaBootstrap"),
          "--topic",
          topic,
        ].concat(
          ["--keys", `configmap:${namespace}/${publicKeysConfigMapName(policy)}`],
          ["--kubeconfig", verifierKubeconfig, "--status", `${namespace}/${policy}`],
          ["--witness-key", witnessKey, "--replica", String(i), "--replicas", "2"],
          ["--interval", "0.5", "--status-every", "0.5"],
        ),
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      w.stderr?.on("data", (d: Buffer) => {
        log += d.toString();
      });
      return { w, exited: new Promise<number | null>((r) => w.once("exit", (code) => r(code))) };
    });
    try {
      const summed = await until(
        "both shards written and summed",
        async () => {
          const i = await integrity();
          return i?.shards?.["0/2"] && i.shards["1/2"] && i.streams === 4 ? i : undefined;
        },
        30_000,
      ).catch((err: Error) => Promise.reject(new Error(`${err.message}\n${log}`)));
      expect(summed).toMatchObject({ state: "Verified", streams: 4, errors: 0 });
      const parts = [summed.shards?.["0/2"]?.streams ?? 0, summed.shards?.["1/2"]?.streams ?? 0];
      expect((parts[0] ?? 0) + (parts[1] ?? 0)).toBe(4);
      expect(parts.every((n) => n > 0)).toBe(true);
    } finally {
      for (const r of replicas) r.w.kill("SIGTERM");
    }
    for (const r of replicas) expect(await r.exited).toBe(0);
  }, 90_000);
});
