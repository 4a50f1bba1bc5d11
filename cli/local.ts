// `npm run local`: the whole product, live, on this machine. It brings up Kafka and a real node
// (test/infra/cluster.ts), builds or finds the images, installs the chart, applies a sample
// AuditPolicy and the demo app, sends traffic, and prints the policy's coverage, each pod's
// sidecar status and a verify summary of the topic, with how to reach it all. Traffic goes on at
// a gentle rate until Ctrl-C, which takes everything down and restores the host.
import { execFile } from "node:child_process";
import { request } from "node:http";
import { promisify } from "node:util";
import { routeProcessWarnings } from "../sidecar/sink/process-warnings.ts";
import { DEMO_PORT, demoDeployment, demoPolicy, topicOf } from "../test/e2e/demo.ts";
import { helmFor, installChart, SYSTEM_NAMESPACE } from "../test/infra/chart.ts";
import { type Cluster, startCluster } from "../test/infra/cluster.ts";
import { ensureImages } from "../test/infra/images.ts";
import { ensureToolchain } from "../test/infra/toolchain.ts";
import { until } from "../test/infra/wait.ts";

const run = promisify(execFile);
// kafkajs' negative-timeout noise dropped (the broker's readiness check runs here); others shown.
routeProcessWarnings((w) => process.stderr.write(`${w.name}: ${w.message}\n`));
const started = Date.now();
const NAMESPACE = "demo";
const NAME = "shop";
const PATHS = ["/api/cart", "/api/orders/42", "/api/payments/7", "/login", "/api/items?page=2"];

function step(message: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[${s}s] ${message}\n`);
}

/** Runs `work`, printing a progress line every 10 s while it takes. */
async function slow<T>(what: string, work: () => Promise<T>): Promise<T> {
  step(what);
  const t0 = Date.now();
  const timer = setInterval(
    () => step(`  … ${what} (${Math.round((Date.now() - t0) / 1000)}s)`),
    10_000,
  );
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

function httpGet(ip: string, path: string, user?: string): Promise<number> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = user
      ? { authorization: `Basic ${Buffer.from(`${user}:x`).toString("base64")}` }
      : {};
    const req = request(
      { host: ip, port: DEMO_PORT, path, headers, timeout: 3_000, agent: false },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
    req.end();
  });
}

interface PodRow {
  name: string;
  ip: string;
  ready: boolean;
  sidecar: string;
}

async function podRows(cluster: Cluster): Promise<PodRow[]> {
  const list = JSON.parse(
    await cluster.kubectl(["get", "pods", "-n", NAMESPACE, "-l", `app=${NAME}`, "-o", "json"]),
  ) as {
    items: {
      metadata: { name: string };
      status: {
        podIP?: string;
        conditions?: { type: string; status: string }[];
        initContainerStatuses?: { name: string; ready: boolean; restartCount: number }[];
      };
    }[];
  };
  return list.items.map((p) => {
    const s = p.status.initContainerStatuses?.find((c) => c.name === "auditready-sidecar");
    return {
      name: p.metadata.name,
      ip: p.status.podIP ?? "",
      ready: p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
      sidecar: s ? `${s.ready ? "ready" : "not ready"}, restarts ${s.restartCount}` : "no sidecar",
    };
  });
}

/** A sidecar's own counters, from its /metrics on the pod's address. */
function sidecarMetrics(ip: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      { host: ip, port: 9464, path: "/metrics", timeout: 3_000, agent: false },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => {
          body += c.toString();
        });
        res.on("end", () => {
          // A counter's samples, summed over its labels.
          const pick = (name: string) =>
            [
              ...body.matchAll(new RegExp(`^auditready_${name}(?:\\{[^}]*\\})? (\\S+)$`, "gm")),
            ].reduce((n, m) => n + Number(m[1]), 0);
          resolve(
            `lines read ${pick("lines_read_total")}, records published ${pick("records_published_total")}`,
          );
        });
      },
    );
    req.on("error", () => resolve("metrics unavailable"));
    req.end();
  });
}

async function verifySummary(
  cluster: Cluster,
  kubeconfig: string,
): Promise<{ ok: boolean; text: string }> {
  const args = [
    "cli/auditready.ts",
    "verify",
    "--brokers",
    cluster.kafka.bootstrap,
    "--topic",
    topicOf({ namespace: NAMESPACE, name: NAME }),
    "--keys",
    `configmap:${NAMESPACE}/auditready-${NAME}-keys`,
    "--kubeconfig",
    kubeconfig,
    "--status",
    `${NAMESPACE}/${NAME}`,
    "--quiet",
  ];
  try {
    const { stdout } = await run(process.execPath, args, { maxBuffer: 16 << 20 });
    return { ok: true, text: stdout };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, text: `${e.stdout ?? ""}${e.stderr ?? e.message}` };
  }
}

async function main(): Promise<void> {
  step(
    "auditready local: the whole product on this machine (components cached under ~/.cache/auditready)",
  );
  const [tools, images] = await slow("building or finding the components and the images", () =>
    Promise.all([ensureToolchain(), ensureImages()]),
  );
  const cluster = await slow(
    "starting the cluster: guards, bridge, Kafka, control plane, node",
    () =>
      startCluster({
        tools,
        images: [images.auditready.archive, images.demo.archive],
        progress: step,
      }),
  );
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    step(`${why}: stopping the demo, the node, Kafka and the control plane; restoring the host`);
    await cluster.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  try {
    const kubeconfig = cluster.kube.kubeconfigPath;
    const helm = helmFor(tools.helm, kubeconfig);
    await slow("installing the chart (helm install, both operator replicas Ready)", async () =>
      installChart(helm, images.auditready.ref, "local"),
    );
    const demo = {
      namespace: NAMESPACE,
      name: NAME,
      image: images.demo.ref,
      sidecarImage: images.auditready.ref,
      replicas: 3,
      brokers: [cluster.kafka.podBootstrap ?? ""],
    };
    await cluster.kubectl(["create", "namespace", NAMESPACE]);
    await cluster.kubectl(["apply", "-f", "-"], JSON.stringify(demoPolicy(demo)));
    await slow("waiting for the policy's key, topic and webhook", () =>
      until(
        "policy ready",
        async () => {
          const p = JSON.parse(
            await cluster.kubectl(["get", "auditpolicy", NAME, "-n", NAMESPACE, "-o", "json"]),
          ) as {
            status?: { conditions?: { type: string; status: string }[] };
          };
          const c = p.status?.conditions ?? [];
          return ["KeyReady", "TopicReady", "WebhookReady"].every((t) =>
            c.some((x) => x.type === t && x.status === "True"),
          )
            ? true
            : undefined;
        },
        120_000,
      ),
    );
    await cluster.kubectl(["apply", "-f", "-"], JSON.stringify(demoDeployment(demo)));
    const pods = await slow("starting the demo app: 3 pods, each with the injected sidecar", () =>
      until(
        "3 pods Ready",
        async () => {
          const rows = await podRows(cluster);
          return rows.length === 3 && rows.every((r) => r.ready) ? rows : undefined;
        },
        180_000,
      ),
    );
    let sent = 0;
    const traffic = async () => {
      for (const p of pods) {
        const path = PATHS[sent % PATHS.length] ?? "/";
        await httpGet(p.ip, path, sent % 3 === 0 ? undefined : ["alice", "bob"][sent % 2]);
        sent++;
      }
    };
    for (let i = 0; i < 10; i++) await traffic();
    const verified = await slow(
      "sending traffic and verifying the topic until the first record is verified",
      () =>
        until(
          "a verified record",
          async () => {
            await traffic();
            const v = await verifySummary(cluster, kubeconfig);
            return v.ok && /^ok /m.test(v.text) ? v : undefined;
          },
          120_000,
        ),
    );
    const firstVerifiedMs = Date.now() - started;
    const policies = await cluster.kubectl(["get", "auditpolicies", "-A"]);
    const rows = await podRows(cluster);
    const sidecars = await Promise.all(
      rows.map(async (r) => `  ${r.name}  sidecar ${r.sidecar}; ${await sidecarMetrics(r.ip)}`),
    );
    const ctl = `${tools.kubectl} --kubeconfig ${kubeconfig}`;
    process.stdout.write(`
auditready is running on a real node. First verified record ${(firstVerifiedMs / 1000).toFixed(1)} s after start.

$ kubectl get auditpolicies -A
${policies}
Sidecars (native, injected by the operator's webhook):
${sidecars.join("\n")}

$ auditready verify --topic ${topicOf(demo)} --keys configmap:${NAMESPACE}/auditready-${NAME}-keys --status ${NAMESPACE}/${NAME}
${verified.text}
Try:
  ${ctl} get auditpolicies -A
  ${ctl} get pods -n ${NAMESPACE}
  ${ctl} logs -n ${NAMESPACE} deploy/${NAME} -c auditready-sidecar
  ${ctl} logs -n ${SYSTEM_NAMESPACE} deploy/auditready-operator
  node cli/auditready.ts verify --brokers ${cluster.kafka.bootstrap} --topic ${topicOf(demo)} \\
      --keys configmap:${NAMESPACE}/auditready-${NAME}-keys --kubeconfig ${kubeconfig}
  curl http://${rows[0]?.ip ?? "<pod ip>"}:${DEMO_PORT}/anything   (a request, from this machine to a pod)

Traffic goes on at about one request per second per pod. Press Ctrl-C to stop everything.
`);
    const timer = setInterval(() => void traffic(), 1_000);
    timer.unref();
    setInterval(() => undefined, 60_000);
  } catch (err) {
    step(`failed: ${(err as Error).message}`);
    await cluster.stop();
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  step(`auditready local: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
