// The product as users run it, on a real node: the chart installed with the built image, an
// AuditPolicy, and a demo Deployment of 3 replicas. Every pod gets the native sidecar from the
// webhook (called by the API server through the chart's Service), the real kubelet's probes make
// the sidecars Ready, the policy shows COVERAGE 3/3, N requests become exactly N signed `log`
// records with each pod's identity, and `auditready verify` run by the chart's CronJob under its
// least-privilege Role sets INTEGRITY to Verified.
import { beforeAll, describe, expect, it } from "vitest";
import { imageValues } from "../infra/chart.ts";
import { endpoint } from "../infra/endpoints.ts";
import { DEMO_PORT, demoDeployment, demoPolicy, topicOf } from "./demo.ts";
import {
  apply,
  CHART,
  ensureInstalled,
  get,
  helm,
  images,
  kubectl,
  kubectlJson,
  pods,
  RELEASE,
  readAll,
  SYSTEM_NAMESPACE,
  until,
} from "./support.ts";

const namespace = "e2e-demo";
const name = "demo";
const demo = {
  namespace,
  name,
  image: images().demo,
  sidecarImage: images().app,
  replicas: 3,
  brokers: [endpoint("kafkaPodBootstrap")],
};
const selector = `app=${name}`;
const REQUESTS_PER_POD = 40;

interface PolicyStatus {
  status?: {
    coverage?: string;
    matchedPods?: number;
    readyPods?: number;
    uncovered?: { pod: string; reason: string }[];
    integrity?: { state?: string; errors?: number; streams?: number; messages?: number };
    conditions?: { type: string; status: string; message?: string }[];
  };
}

const policyStatus = () =>
  kubectlJson<PolicyStatus>(["get", "auditpolicy", name, "-n", namespace]).status ?? {};

const describePods = () =>
  kubectl(["describe", "pods", "-n", namespace, "-l", selector]).slice(-6000);

describe("the demo workload on a real node", () => {
  beforeAll(() => {
    ensureInstalled();
    kubectl(["create", "namespace", namespace]);
    apply(demoPolicy(demo));
  });

  it("has both operator replicas Ready, one of them holding the Lease", async () => {
    const operators = pods(SYSTEM_NAMESPACE, "app.kubernetes.io/name=auditready-operator");
    expect(operators).toHaveLength(2);
    expect(operators.every((p) => p.ready)).toBe(true);
    const holder = await until("a Lease holder", () => {
      const lease = kubectlJson<{ spec: { holderIdentity?: string } }>([
        "get",
        "lease",
        `${RELEASE}-operator`,
        "-n",
        SYSTEM_NAMESPACE,
      ]);
      return lease.spec.holderIdentity || undefined;
    });
    expect(operators.map((p) => p.name)).toContain(holder);
  });

  it("injects the native sidecar into every replica through the chart's Service, and the kubelet makes it Ready", async () => {
    await until("the policy's webhook registered", () => {
      const conf = kubectlJson<{
        webhooks?: { clientConfig: { service?: { name: string; namespace: string } } }[];
      }>(["get", "mutatingwebhookconfiguration", `${RELEASE}-operator`]);
      return conf.webhooks?.length ? conf.webhooks : undefined;
    }).then((hooks) => {
      for (const h of hooks)
        expect(h.clientConfig.service).toMatchObject({
          name: `${RELEASE}-operator`,
          namespace: SYSTEM_NAMESPACE,
        });
    });
    await until("topic and key ready", () => {
      const conditions = policyStatus().conditions ?? [];
      return ["KeyReady", "TopicReady", "WebhookReady"].every((t) =>
        conditions.some((c) => c.type === t && c.status === "True"),
      )
        ? true
        : undefined;
    });
    apply(demoDeployment(demo));
    const running = await until(
      "3 demo pods Ready with a Ready sidecar",
      () => {
        const list = pods(namespace, selector);
        return list.length === 3 && list.every((p) => p.ready && p.sidecar?.ready)
          ? list
          : undefined;
      },
      180_000,
      1_000,
      describePods,
    );
    for (const p of running) {
      expect(p.annotations["auditready.dev/injected"]).toBe(`${name}@1`);
      expect(p.sidecar?.restartCount).toBe(0);
    }
  });

  it("shows COVERAGE 3/3 on the policy", async () => {
    const coverage = await until(
      "coverage 3/3",
      () => (policyStatus().coverage === "3/3" ? "3/3" : undefined),
      60_000,
      1_000,
      () => JSON.stringify(policyStatus()),
    );
    expect(coverage).toBe("3/3");
    const table = kubectl(["get", "auditpolicies", "-n", namespace]);
    expect(table).toMatch(/COVERAGE/);
    expect(table).toMatch(/3\/3/);
  });

  it("turns N requests into exactly N log records in the topic, each with its pod's identity", async () => {
    const running = pods(namespace, selector);
    const sent = new Map<string, number>();
    for (const p of running) {
      for (let i = 0; i < REQUESTS_PER_POD; i++) {
        expect(await get(p.ip, DEMO_PORT, `/e2e/${p.name}/${i}`)).toBe(200);
      }
      sent.set(p.name, REQUESTS_PER_POD);
    }
    const topic = topicOf(demo);
    const logs = await until(
      `${3 * REQUESTS_PER_POD} log records`,
      async () => {
        const records = (await readAll(topic)).filter((m) => m.value.type === "log");
        const ours = records.filter((m) =>
          String(eventOf(m.value).what?.resource ?? "").startsWith("/e2e/"),
        );
        return ours.length >= 3 * REQUESTS_PER_POD ? ours : undefined;
      },
      60_000,
      1_000,
    );
    expect(logs).toHaveLength(3 * REQUESTS_PER_POD);
    for (const p of running) {
      const mine = logs.filter((m) => eventOf(m.value).k8s?.pod === p.name);
      expect(mine).toHaveLength(REQUESTS_PER_POD);
      const resources = mine.map((m) => eventOf(m.value).what?.resource).sort();
      expect(new Set(resources).size).toBe(REQUESTS_PER_POD);
      for (const m of mine) {
        const k8s = eventOf(m.value).k8s;
        expect(k8s).toMatchObject({
          cluster: "e2e",
          namespace,
          pod: p.name,
          podUid: p.uid,
          container: "app",
          node: p.node,
          serviceAccount: p.serviceAccount,
          policy: name,
        });
        // A stream per source pattern, so rotation stays in one stream: the app's subPath
        // directory (app/) under the shared log volume, then the policy's glob.
        expect(m.key).toBe(`e2e/${namespace}/${p.name}/app/var/log/app/app/access*.log`);
        expect(eventOf(m.value).violations).toEqual([]);
      }
    }
  });

  it("is verified by the chart's CronJob under its least-privilege Role: INTEGRITY Verified", async () => {
    helm([
      "upgrade",
      RELEASE,
      CHART,
      "-n",
      SYSTEM_NAMESPACE,
      "--reuse-values",
      "--set",
      `verifiers[0].policy=${namespace}/${name}`,
      "--set",
      `verifiers[0].brokers[0]=${endpoint("kafkaPodBootstrap")}`,
      "--set",
      `verifiers[0].topic=${topicOf(demo)}`,
      ...imageValues(images().app),
      "--wait",
      "--timeout",
      "120s",
    ]);
    const job = `verify-${Date.now()}`;
    kubectl(["create", "job", job, "-n", namespace, `--from=cronjob/auditready-verify-${name}`]);
    await until(
      "the verify Job to finish",
      () => {
        const j = kubectlJson<{ status: { succeeded?: number; failed?: number } }>([
          "get",
          "job",
          job,
          "-n",
          namespace,
        ]);
        if (j.status.failed)
          throw new Error(
            `verify Job failed:\n${kubectl(["logs", `job/${job}`, "-n", namespace])}`,
          );
        return j.status.succeeded ? true : undefined;
      },
      180_000,
      1_000,
      () => kubectl(["describe", "job", job, "-n", namespace]),
    );
    const integrity = policyStatus().integrity;
    expect(integrity).toMatchObject({ state: "Verified", errors: 0, streams: 3 });
    expect(kubectl(["get", "auditpolicies", "-n", namespace])).toMatch(/Verified/);
  });
});

interface EventView {
  what?: { resource?: string };
  k8s?: Record<string, unknown>;
  violations?: unknown[];
}

function eventOf(record: Record<string, unknown>): EventView {
  return (record.event ?? {}) as EventView;
}
