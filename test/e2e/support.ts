// Shared by the e2e tests: kubectl and helm against the real node's API server, the chart
// installed once per run (whichever file needs it first), the demo workload, traffic from the
// node to the pods, and the topic read back from the host. Nothing here writes pod status:
// every state the tests wait for comes from the real kubelet and the product itself.
import { spawnSync } from "node:child_process";
import { request } from "node:http";
import { readTopic } from "../../cli/sources.ts";
import {
  CHART,
  type Helm,
  helmFor,
  installChart,
  RELEASE,
  SYSTEM_NAMESPACE,
} from "../infra/chart.ts";
import { endpoint } from "../infra/endpoints.ts";

export { CHART, RELEASE, SYSTEM_NAMESPACE };

const helmOnce: { run?: Helm } = {};

export class CommandError extends Error {
  override readonly name = "CommandError";
}

function runTool(binary: string, args: string[], input?: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(binary, args, {
    encoding: "utf8",
    input,
    maxBuffer: 64 << 20,
    env: { ...process.env, ...env },
  });
  if (r.status !== 0) {
    throw new CommandError(
      `${binary.split("/").pop()} ${args.join(" ")} exited ${r.status}: ${r.stderr || r.error}`,
    );
  }
  return r.stdout;
}

export function kubectl(args: string[], input?: string): string {
  return runTool(endpoint("kubectl"), ["--kubeconfig", endpoint("kubeconfig"), ...args], input);
}

export function kubectlJson<T>(args: string[]): T {
  return JSON.parse(kubectl([...args, "-o", "json"])) as T;
}

export function apply(manifest: unknown): void {
  kubectl(["apply", "-f", "-"], JSON.stringify(manifest));
}

export function helm(args: string[]): string {
  helmOnce.run ??= helmFor(endpoint("helm"), endpoint("kubeconfig"));
  return helmOnce.run(args);
}

export { until } from "../infra/wait.ts";

/** The image references the build produced (name and version from package.json). */
export const images = () => ({ app: endpoint("image"), demo: endpoint("demoImage") });

/**
 * helm install of the chart with the built image, once per run: a later caller finds the
 * release deployed. --wait: both operator replicas Ready (by the kubelet's probes).
 */
export function ensureInstalled(): void {
  try {
    helm(["status", RELEASE, "-n", SYSTEM_NAMESPACE]);
    return;
  } catch {
    // not installed yet
  }
  // Short certificates, so a renewal (and a rotated key reaching running pods) is seen in a test.
  installChart(helm, images().app, "e2e", [
    "--set",
    "rollout.restart=true",
    "--set",
    "certValiditySeconds=90",
  ]);
}

export interface PodSummary {
  name: string;
  uid: string;
  ip: string;
  node: string;
  serviceAccount: string;
  ready: boolean;
  sidecar?: { ready: boolean; started: boolean; restartCount: number };
  annotations: Record<string, string>;
}

interface PodJson {
  metadata: {
    name: string;
    uid: string;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  spec: { nodeName?: string; serviceAccountName?: string };
  status: {
    podIP?: string;
    conditions?: { type: string; status: string }[];
    initContainerStatuses?: {
      name: string;
      ready: boolean;
      started?: boolean;
      restartCount: number;
    }[];
  };
}

export function pods(namespace: string, selector: string): PodSummary[] {
  const list = kubectlJson<{ items: PodJson[] }>(["get", "pods", "-n", namespace, "-l", selector]);
  // A pod being deleted (a rollout's old replica) can still say Ready while its address is gone.
  return list.items
    .filter((p) => !p.metadata.deletionTimestamp)
    .map((p) => {
      const sidecar = p.status.initContainerStatuses?.find((c) => c.name === "auditready-sidecar");
      return {
        name: p.metadata.name,
        uid: p.metadata.uid,
        ip: p.status.podIP ?? "",
        node: p.spec.nodeName ?? "",
        serviceAccount: p.spec.serviceAccountName ?? "",
        ready: p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
        ...(sidecar && {
          sidecar: {
            ready: sidecar.ready,
            started: sidecar.started ?? false,
            restartCount: sidecar.restartCount,
          },
        }),
        annotations: p.metadata.annotations ?? {},
      };
    });
}

/** One HTTP GET from the node to a pod; resolves with the status code. */
export function get(ip: string, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: ip, port, path, method: "GET", timeout: 5_000, agent: false },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${ip}:${port}${path}: timed out`)));
    req.on("error", reject);
    req.end();
  });
}

export interface TopicMessage {
  key: string | undefined;
  value: Record<string, unknown>;
  position: string;
}

/** Every message now in the topic, read from the host's listener by the verifier's own reader. */
export async function readAll(topic: string): Promise<TopicMessage[]> {
  const out: TopicMessage[] = [];
  for await (const m of readTopic(
    { brokers: [endpoint("kafkaBootstrap")], topic },
    () => undefined,
  )) {
    out.push({
      key: m.key,
      value: JSON.parse(Buffer.from(m.value).toString("utf8")) as Record<string, unknown>,
      position: m.position,
    });
  }
  return out;
}

export interface VerifyFinding {
  code: string;
  level: "error" | "warning" | "info";
  message: string;
}

export interface VerifyResult {
  exitCode: number;
  ok: boolean;
  messages: number;
  streams: { origin: string; findings: VerifyFinding[]; leaves: number }[];
  counts: { error: number; warning: number; info: number };
}

/** `auditready verify --json` of a policy's topic from the node, trusting the policy's keys. */
export function verifyTopic(namespace: string, policy: string, topic: string): VerifyResult {
  const cli = new URL("../../cli/auditready.ts", import.meta.url).pathname;
  const r = spawnSync(
    process.execPath,
    [
      cli,
      "verify",
      "--brokers",
      endpoint("kafkaBootstrap"),
      "--topic",
      topic,
      "--keys",
      `configmap:${namespace}/auditready-${policy}-keys`,
      "--kubeconfig",
      endpoint("kubeconfig"),
      "--json",
      "--quiet",
      "--no-liveness",
    ],
    { encoding: "utf8", maxBuffer: 256 << 20 },
  );
  if (r.status !== 0 && r.status !== 1) {
    throw new CommandError(`auditready verify exited ${r.status}: ${r.stderr}`);
  }
  return { exitCode: r.status, ...(JSON.parse(r.stdout) as Omit<VerifyResult, "exitCode">) };
}

/** Finding codes of a verify result, by level, sorted: what the tests assert exactly. */
export function codes(result: VerifyResult, level: VerifyFinding["level"]): string[] {
  return result.streams
    .flatMap((s) => s.findings)
    .filter((f) => f.level === level)
    .map((f) => f.code)
    .sort();
}

/** SIGKILL of a pod's container through the node's containerd (as an OOM kill would). */
export function killContainer(namespace: string, pod: string, container: string): void {
  const p = kubectlJson<{
    status: {
      initContainerStatuses?: { name: string; containerID?: string }[];
      containerStatuses?: { name: string; containerID?: string }[];
    };
  }>(["get", "pod", pod, "-n", namespace]);
  const all = [...(p.status.initContainerStatuses ?? []), ...(p.status.containerStatuses ?? [])];
  const id = all.find((c) => c.name === container)?.containerID?.replace(/^containerd:\/\//, "");
  if (!id) throw new Error(`no running container ${container} in ${namespace}/${pod}`);
  runTool("ctr", [
    "--address",
    endpoint("nodeContainerd"),
    "-n",
    "k8s.io",
    "tasks",
    "kill",
    "--signal",
    "SIGKILL",
    id,
  ]);
}

/** Asks the e2e setup (which owns the broker) to restart Kafka, down for `downMs`. */
export async function restartKafka(downMs: number): Promise<void> {
  const res = await fetch(`${endpoint("e2eControl")}/kafka/restart?downMs=${downMs}`, {
    method: "POST",
  });
  if (!res.ok) throw new Error(`Kafka restart failed: ${await res.text()}`);
}
