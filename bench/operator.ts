// `npm run bench:operator`: the operator's cost on the real kube-apiserver + etcd, not a test.
// 1. Admission latency of pod creates through the API server with the injection webhook
//    (a namespace an AuditPolicy selects) against the same creates with no webhook (a namespace
//    none selects), interleaved, as p50/p99 and their ratio, plus the webhook's own handling
//    time from its histogram.
// 2. Scale: 100 policies and 2,000 pods; time until every status counts its pods, time from a
//    change (sidecar readiness written on one pod per policy) until all 100 statuses show it,
//    and the operator process's RSS.
// The operator runs as its own process (operator/main.ts), as in a cluster.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { createServer } from "node:net";
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from "@kubernetes/client-node";
import { CRD_FILE } from "../operator/api/generate-crd.ts";
import { GROUP, PLURAL, VERSION } from "../operator/api/policy.ts";
import { endpoint } from "../test/infra/endpoints.ts";
import setup from "../test/infra/global-setup.ts";

const CREATES = Number(process.env.BENCH_CREATES ?? 1_000);
const POLICIES = Number(process.env.BENCH_POLICIES ?? 100);
const PODS = Number(process.env.BENCH_PODS ?? 2_000);
const CONCURRENCY = 16;

const stopInfra = await setup();
let operator: ChildProcess | undefined;
try {
  await main();
} finally {
  operator?.kill("SIGTERM");
  await stopInfra();
}

async function main() {
  const kc = new KubeConfig();
  kc.loadFromFile(endpoint("kubeconfig"));
  const core = kc.makeApiClient(CoreV1Api);
  const objects = kc.makeApiClient(CustomObjectsApi);
  execFileSync(endpoint("kubectl"), [
    "--kubeconfig",
    endpoint("kubeconfig"),
    "apply",
    "--server-side",
    "-f",
    CRD_FILE.pathname,
  ]);
  await waitFor("CRD served", () =>
    objects
      .listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })
      .then(() => true),
  );
  const opNs = "auditready-bench";
  await core.createNamespace({ body: { metadata: { name: opNs } } });
  await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
    body: { metadata: { name: "auditready-bench" }, webhooks: [] },
  });
  const port = await freePort();
  operator = spawn(process.execPath, ["operator/main.ts"], {
    cwd: new URL("..", import.meta.url).pathname,
    env: {
      PATH: process.env.PATH ?? "",
      KUBECONFIG: endpoint("kubeconfig"),
      AUDITREADY_CLUSTER: "bench",
      AUDITREADY_NAMESPACE: opNs,
      POD_NAME: "bench",
      // e.g. --max-old-space-size=96, to see what the operator needs when its heap is capped.
      NODE_OPTIONS: process.env.BENCH_OPERATOR_NODE_OPTIONS ?? "",
      AUDITREADY_WEBHOOK_HOST: "127.0.0.1",
      AUDITREADY_WEBHOOK_PORT: String(port),
      AUDITREADY_WEBHOOK_URL: `https://127.0.0.1:${port}/mutate`,
      AUDITREADY_WEBHOOK_CONFIGURATION: "auditready-bench",
      AUDITREADY_LOG_LEVEL: process.env.BENCH_OPERATOR_LOG ?? "warn",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const spec = (app: string) => ({
    selector: { matchLabels: { app } },
    source: { paths: ["/var/log/app/access.log"], format: "json" },
    sink: { kafka: { brokers: [endpoint("kafkaBootstrap")], topic: "bench.audit" } },
    retention: { days: 1, replicas: 1, minInSync: 1 },
  });
  const createPolicy = (namespace: string, name: string, app: string) =>
    objects.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: "AuditPolicy",
        metadata: { name },
        spec: spec(app),
      },
    });
  const pod = (name: string, app: string) => ({
    metadata: { name, labels: { app } },
    spec: { containers: [{ name: "api", image: "registry.invalid/app:1" }] },
  });

  // --- 1. admission latency ------------------------------------------------------------------
  await core.createNamespace({ body: { metadata: { name: "bench-hook" } } });
  await core.createNamespace({ body: { metadata: { name: "bench-nohook" } } });
  await createPolicy("bench-hook", "web", "web");
  let probe = 0;
  await waitFor("webhook in effect", async () => {
    const p = await core.createNamespacedPod({
      namespace: "bench-hook",
      body: pod(`warm-${probe++}`, "web"),
    });
    return p.metadata?.annotations?.["auditready.dev/injected"] !== undefined;
  });
  const hook: number[] = [];
  const none: number[] = [];
  // Warm both paths, then interleave so drift in the API server affects both the same way.
  for (let i = 0; i < 50; i++) {
    await core.createNamespacedPod({ namespace: "bench-nohook", body: pod(`w-${i}`, "web") });
  }
  for (let i = 0; i < CREATES; i++) {
    for (const [ns, out] of [
      ["bench-hook", hook],
      ["bench-nohook", none],
    ] as const) {
      const t = performance.now();
      await core.createNamespacedPod({ namespace: ns, body: pod(`p-${i}`, "web") });
      out.push(performance.now() - t);
    }
  }
  const injected = await core.readNamespacedPod({
    namespace: "bench-hook",
    name: `p-${CREATES - 1}`,
  });
  if (!injected.spec?.initContainers?.length)
    throw new Error("bench: pods in bench-hook were not injected");
  const handler = await webhookHandlerQuantiles(port);

  // --- 2. scale ------------------------------------------------------------------------------
  const namespaces = Math.max(1, Math.round(POLICIES / 10));
  for (let n = 0; n < namespaces; n++)
    await core.createNamespace({ body: { metadata: { name: `bench-s${n}` } } });
  const policies = Array.from({ length: POLICIES }, (_, i) => ({
    ns: `bench-s${i % namespaces}`,
    name: `pol-${i}`,
    app: `app-${i}`,
  }));
  await pool(policies, CONCURRENCY, (p) => createPolicy(p.ns, p.name, p.app));
  // Let the webhook entries for the new policies take effect before creating their pods.
  await waitFor("all policies registered", async () => {
    const mwc = await kc
      .makeApiClient(AdmissionregistrationV1Api)
      .readMutatingWebhookConfiguration({ name: "auditready-bench" });
    return (mwc.webhooks?.length ?? 0) === POLICIES + 1;
  });
  for (const p of policies.slice(0, 1)) {
    let k = 0;
    await waitFor("scale webhooks in effect", async () => {
      const created = await core.createNamespacedPod({
        namespace: p.ns,
        body: pod(`${p.name}-probe-${k++}`, "none"),
      });
      await core.deleteNamespacedPod({
        namespace: p.ns,
        name: created.metadata?.name ?? "",
        gracePeriodSeconds: 0,
      });
      const check = await core.createNamespacedPod({
        namespace: p.ns,
        body: pod(`${p.name}-probe-${k++}`, p.app),
      });
      await core.deleteNamespacedPod({
        namespace: p.ns,
        name: check.metadata?.name ?? "",
        gracePeriodSeconds: 0,
      });
      return check.metadata?.annotations?.["auditready.dev/injected"] !== undefined;
    });
  }
  const perPolicy = Math.floor(PODS / POLICIES);
  // Statuses are followed with a watch, not polled: polling 100 objects would load the very
  // API server being measured.
  const statuses = new Map<string, { matchedPods?: number; readyPods?: number }>();
  const seenReadyAt = new Map<string, number>();
  type Seen = {
    metadata: { namespace: string; name: string };
    status?: { matchedPods?: number; readyPods?: number };
  };
  const record = (obj: Seen) => {
    const k = `${obj.metadata.namespace}/${obj.metadata.name}`;
    statuses.set(k, obj.status ?? {});
    if (obj.status?.readyPods === 1 && !seenReadyAt.has(k)) seenReadyAt.set(k, performance.now());
  };
  // client-node ends a watch idle for 30 s: start it again whenever it ends (a fresh watch
  // replays every object as ADDED, so nothing is missed).
  let watching = true;
  let statusWatch: { abort(): void } | undefined;
  const follow = async (): Promise<void> => {
    statusWatch = await new Watch(kc).watch(
      `/apis/${GROUP}/${VERSION}/${PLURAL}`,
      {},
      (_type: string, obj: Seen) => record(obj),
      () => {
        if (watching) setTimeout(() => void follow(), 10);
      },
    );
  };
  await follow();
  const pods = policies.flatMap((p) =>
    Array.from({ length: perPolicy }, (_, j) => ({ ...p, pod: `${p.name}-${j}` })),
  );
  const t0 = performance.now();
  await pool(pods, CONCURRENCY, (p) =>
    core.createNamespacedPod({ namespace: p.ns, body: pod(p.pod, p.app) }),
  );
  const created = performance.now() - t0;
  const statusOf = async (p: { ns: string; name: string }) =>
    (
      (await objects.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace: p.ns,
        name: p.name,
      })) as {
        status?: { matchedPods?: number; readyPods?: number };
      }
    ).status;
  await waitFor(
    "statuses count all pods",
    async () => {
      const all = await pool(policies, CONCURRENCY, statusOf);
      return all.every((s) => s?.matchedPods === perPolicy);
    },
    120_000,
  ).catch(async (err: unknown) => {
    const all = await pool(policies, CONCURRENCY, statusOf);
    const counts = new Map<string, number>();
    for (const st of all)
      counts.set(String(st?.matchedPods), (counts.get(String(st?.matchedPods)) ?? 0) + 1);
    throw new Error(`${err}; matchedPods over the policies: ${JSON.stringify([...counts])}`);
  });
  const countedMs = performance.now() - t0;

  const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  const before = {
    count: await metric(port, "auditready_reconcile_seconds_count"),
    sum: await metric(port, "auditready_reconcile_seconds_sum"),
  };
  const t1 = performance.now();
  const acked = new Map<string, number>();
  await pool(policies, CONCURRENCY, async (p) => {
    await core.patchNamespacedPodStatus(
      {
        namespace: p.ns,
        name: `${p.name}-0`,
        body: {
          status: {
            initContainerStatuses: [
              {
                name: "auditready-sidecar",
                image: "x",
                imageID: "",
                ready: true,
                restartCount: 0,
                started: true,
                state: { running: {} },
              },
            ],
          },
        },
      },
      merge,
    );
    acked.set(`${p.ns}/${p.name}`, performance.now());
  });
  const changeWritten = performance.now() - t1;
  await waitFor(
    "all statuses show the change",
    async () => {
      const all = await pool(policies, CONCURRENCY, statusOf);
      return all.every((s) => s?.readyPods === 1);
    },
    60_000,
    20,
  );
  const convergedMs = performance.now() - t1;
  const during = {
    count: (await metric(port, "auditready_reconcile_seconds_count")) - before.count,
    sum: (await metric(port, "auditready_reconcile_seconds_sum")) - before.sum,
  };
  // Per policy: from its pod's status write being acknowledged to its status showing it.
  const lags = policies.map((p) => {
    const k = `${p.ns}/${p.name}`;
    return (seenReadyAt.get(k) ?? Number.NaN) - (acked.get(k) ?? Number.NaN);
  });

  // One pod's change, alone: the latency a user sees on `kubectl get auditpolicies`.
  const one = policies[0] as { ns: string; name: string };
  const t2 = performance.now();
  await core.patchNamespacedPodStatus(
    {
      namespace: one.ns,
      name: `${one.name}-1`,
      body: {
        status: {
          initContainerStatuses: [
            {
              name: "auditready-sidecar",
              image: "x",
              imageID: "",
              ready: true,
              restartCount: 0,
              started: true,
              state: { running: {} },
            },
          ],
        },
      },
    },
    merge,
  );
  await waitFor("single change", async () => (await statusOf(one))?.readyPods === 2, 30_000, 2);
  const singleMs = performance.now() - t2;
  watching = false;
  statusWatch?.abort();
  const heap = await metric(port, "nodejs_heap_size_used_bytes");
  const reconciles = await metric(port, "auditready_reconcile_seconds_count");
  const reconcileSum = await metric(port, "auditready_reconcile_seconds_sum");
  const rssMb =
    Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${operator.pid}/status`, "utf8"))?.[1] ?? 0) /
    1024;

  const q = (xs: number[], p: number) =>
    [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0;
  const f = (n: number) => n.toFixed(2);
  const result = {
    admission: {
      creates: CREATES,
      withWebhook: { p50: q(hook, 0.5), p99: q(hook, 0.99) },
      withoutWebhook: { p50: q(none, 0.5), p99: q(none, 0.99) },
      addedP50: q(hook, 0.5) - q(none, 0.5),
      addedP99: q(hook, 0.99) - q(none, 0.99),
      ratioP50: q(hook, 0.5) / q(none, 0.5),
      ratioP99: q(hook, 0.99) / q(none, 0.99),
      webhookHandlerMs: handler,
    },
    scale: {
      policies: POLICIES,
      pods: pods.length,
      createPodsMs: created,
      allCountedMs: countedMs,
      changeOnePodPerPolicy: {
        writeMs: changeWritten,
        convergedMs,
        perPolicyLagP50: q(lags, 0.5),
        perPolicyLagMax: Math.max(...lags),
        reconciles: during.count,
        reconcileMeanMs: (during.sum / during.count) * 1000,
      },
      singleChangeMs: singleMs,
      operatorRssMb: rssMb,
      operatorHeapUsedMb: heap / 1_048_576,
      reconciles,
      reconcileMeanMs: (reconcileSum / reconciles) * 1000,
    },
  };
  console.log(`
auditready operator benchmark (real kube-apiserver + etcd, operator as its own process)

admission latency, ${CREATES} pod creates each, ms       p50      p99
  with the injection webhook                         ${f(result.admission.withWebhook.p50).padStart(7)}  ${f(result.admission.withWebhook.p99).padStart(7)}
  no webhook (same run, interleaved)                 ${f(result.admission.withoutWebhook.p50).padStart(7)}  ${f(result.admission.withoutWebhook.p99).padStart(7)}
  added by the webhook                               ${f(result.admission.addedP50).padStart(7)}  ${f(result.admission.addedP99).padStart(7)}   (target p99 <= 10 ms)
  ratio                                              ${f(result.admission.ratioP50).padStart(7)}  ${f(result.admission.ratioP99).padStart(7)}
  webhook handler alone (server histogram, bucket)   <= ${handler.p50} ms p50, <= ${handler.p99} ms p99

scale: ${POLICIES} policies, ${pods.length} pods
  create the pods (${CONCURRENCY} in flight)                   ${f(created)} ms
  until every status counts its pods                 ${f(countedMs)} ms
  one pod per policy changes (100 status writes, ${f(changeWritten)} ms to write them):
    all statuses converged after the first write     ${f(convergedMs)} ms
    reconciles meanwhile                             ${during.count} (mean ${f((during.sum / during.count) * 1000)} ms)
    per policy, from its pod write to its status     p50 ${f(q(lags, 0.5))} ms, max ${f(Math.max(...lags))} ms   (target <= 2000 ms)
  one pod changes: its status updated in             ${f(singleMs)} ms
  reconciles run                                     ${reconciles} (mean ${f((reconcileSum / reconciles) * 1000)} ms)
  operator RSS                                       ${f(rssMb)} MB (V8 heap used ${f(heap / 1_048_576)} MB)
`);
  console.log(JSON.stringify(result));
}

/** The sum of a metric over its label sets. */
async function metric(port: number, name: string): Promise<number> {
  const text = await metricsText(port);
  const lines = [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, "gm"))];
  return lines.reduce((sum, m) => sum + Number(m[1]), 0);
}

async function webhookHandlerQuantiles(port: number): Promise<{ p50: number; p99: number }> {
  const text = await metricsText(port);
  const buckets = [
    ...text.matchAll(
      /auditready_webhook_admission_seconds_bucket\{le="([^"]+)",decision="patched"\} (\d+)/g,
    ),
  ].map((m) => ({
    le: m[1] === "+Inf" ? Number.POSITIVE_INFINITY : Number(m[1]),
    count: Number(m[2]),
  }));
  const total = buckets.at(-1)?.count ?? 0;
  const at = (p: number) => (buckets.find((b) => b.count >= p * total)?.le ?? Number.NaN) * 1000;
  return { p50: at(0.5), p99: at(0.99) };
}

function metricsText(port: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    request({ host: "127.0.0.1", port, path: "/metrics", rejectUnauthorized: false }, (res) => {
      let out = "";
      res.on("data", (c: Buffer) => {
        out += c.toString();
      });
      res.on("end", () => resolve(out));
    })
      .on("error", reject)
      .end();
  });
}

async function pool<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}

async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 30_000,
  everyMs = 100,
) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`bench: ${what} not within ${timeoutMs} ms (last error: ${String(last)})`);
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}
