// Two operator replicas on the real API server: one holds the Lease and reconciles, both serve
// the webhook; when the leader stops, the other takes the Lease and keeps the status current.
import { request } from "node:https";
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type V1Pod,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditPolicyStatus } from "../../operator/api/policy.ts";
import type { Operator } from "../../operator/run.ts";
import {
  adminConfig,
  createNamespace,
  type Deployment,
  deployOperator,
  installCrd,
  minimalSpec,
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
const run = runId();
const namespace = `leader-${run}`;
let deployment: Deployment;
let one: Operator;
let two: Operator;

function review(
  port: number,
  caPem: string,
  pod: V1Pod,
): Promise<{ allowed: boolean; patch?: string }> {
  const body = JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "u1",
      namespace,
      operation: "CREATE",
      kind: { group: "", version: "v1", kind: "Pod" },
      object: pod,
    },
  });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/mutate",
        method: "POST",
        ca: caPem,
        headers: { "content-type": "application/json" },
      },
      (res) => {
        let out = "";
        res.on("data", (c: Buffer) => {
          out += c.toString();
        });
        res.on("end", () =>
          resolve((JSON.parse(out) as { response: { allowed: boolean; patch?: string } }).response),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("leader election with two operator replicas", () => {
  beforeAll(async () => {
    await installCrd(kc);
    deployment = await deployOperator(kc, run);
    one = await deployment.start("replica-one");
    two = await deployment.start("replica-two");
    await createNamespace(kc, namespace);
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      ...policyRef(namespace),
      body: policyBody("p", minimalSpec("p", `it.leader.${run}`), run),
    });
  });
  afterAll(async () => {
    await deployment?.cleanup();
  });

  it("elects exactly one leader, recorded on the Lease", async () => {
    const leader = await until("a leader", async () =>
      one.isLeader !== two.isLeader ? (one.isLeader ? "replica-one" : "replica-two") : undefined,
    );
    const lease = await kc
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ namespace: deployment.namespace, name: deployment.names.lease });
    expect(lease.spec?.holderIdentity).toBe(leader);
    expect(one.isLeader && two.isLeader).toBe(false);
  });

  it("serves the webhook from both replicas", async () => {
    const secret = await core.readNamespacedSecret({
      namespace: deployment.namespace,
      name: "auditready-webhook-cert",
    });
    const ca = Buffer.from(secret.data?.["ca.crt"] ?? "", "base64").toString();
    await until("both replicas know the policy", async () => {
      const answers = await Promise.all(
        [one, two].map((op) => review(op.webhookPort, ca, podBody("direct", { app: "p" }))),
      );
      return answers.every((a) => a.allowed && a.patch) ? true : undefined;
    });
  });

  it("hands over when the leader stops: the other replica takes the Lease and keeps status current", async () => {
    const [leader, standby] = one.isLeader ? [one, two] : [two, one];
    await leader.stop();
    const started = Date.now();
    await until("standby leads", async () => (standby.isLeader ? true : undefined), 10_000, 50);
    const handoverMs = Date.now() - started;
    expect(handoverMs).toBeLessThan(5_000);

    let n = 0;
    const pod = await until("injected by the standby's webhook", async () => {
      const created = await core.createNamespacedPod({
        namespace,
        body: podBody(`after-${n++}`, { app: "p" }),
      });
      return created.metadata?.annotations?.["auditready.dev/injected"] ? created : undefined;
    });
    for (let i = 0; i < n - 1; i++)
      await core.deleteNamespacedPod({ namespace, name: `after-${i}`, gracePeriodSeconds: 0 });
    await setSidecarReady(kc, namespace, pod.metadata?.name ?? "", true);
    const status = await until("status from the new leader", async () => {
      const s = (await readPolicy(kc, namespace, "p")).status as AuditPolicyStatus | undefined;
      return s?.coverage === "1/1" ? s : undefined;
    });
    expect(status.readyPods).toBe(1);
  });

  it("replaces a leader that vanished without releasing the Lease once the Lease expires", async () => {
    const survivor = one.isLeader ? one : two;
    const third = await deployment.start("replica-three");
    expect(third.isLeader).toBe(false);
    const started = Date.now();
    await survivor.stop({ releaseLease: false });
    await until(
      "the third replica leads",
      async () => (third.isLeader ? true : undefined),
      15_000,
      50,
    );
    const waited = Date.now() - started;
    // Not before the 4 s lease ran out (a second of slack for renew-time rounding), and soon after.
    expect(waited).toBeGreaterThan(2_500);
    expect(waited).toBeLessThan(8_000);
    const lease = await kc
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ namespace: deployment.namespace, name: deployment.names.lease });
    expect(lease.spec?.holderIdentity).toBe("replica-three");
  });
});
