// A whole cluster on this machine for the e2e tests and `npm run local`: the firewall guards and
// the pod bridge first (host.ts), then Apache Kafka (with a listener on the bridge for the pods)
// and etcd + kube-apiserver in parallel, then the node (node.ts). Ready when the node is Ready
// and the default ServiceAccount and root CA exist, so a pod can be created and run at once.
// stop() lets pods drain while kubelet and Kafka still run, then takes everything down.
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type HostSetup, setUpHost } from "./host.ts";
import { type KafkaBroker, startKafka } from "./kafka.ts";
import { type KubeControlPlane, startKube } from "./kube.ts";
import { NODE_NETWORK, type NodeNetwork } from "./network.ts";
import { type KubeNode, startNode } from "./node.ts";
import { ComponentError } from "./process.ts";
import type { Toolchain } from "./toolchain.ts";
import { until } from "./wait.ts";

const run = promisify(execFile);

export interface Cluster {
  network: NodeNetwork;
  kafka: KafkaBroker;
  kube: KubeControlPlane;
  node: KubeNode;
  host: HostSetup;
  stateDir: string;
  /**
   * Stops the broker, waits `downMs`, starts it again on the same ports and data (a broker
   * restart as production sees one); `cluster.kafka` is the new one afterwards.
   */
  restartKafka(downMs: number): Promise<void>;
  /** kubectl with the admin kubeconfig; resolves with stdout. */
  kubectl(args: string[], input?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  tools: Toolchain;
  /** Image archives to import into the node's containerd. */
  images: string[];
  /** Progress lines, for steps that take more than a second. */
  progress?: (message: string) => void;
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const net = NODE_NETWORK;
  const progress = opts.progress ?? (() => undefined);
  const { tools } = opts;
  const stateDir = mkdtempSync(join(tmpdir(), "auditready-node-"));
  progress("installing the firewall guards and the pod bridge");
  const host = setUpHost(stateDir, net);
  let kafka: KafkaBroker | undefined;
  let kube: KubeControlPlane | undefined;
  let node: KubeNode | undefined;
  const teardown = async () => {
    await node?.stop();
    host.release();
    await Promise.allSettled([kube?.stop(), kafka?.stop()]);
  };
  try {
    progress("starting Kafka and the control plane (etcd, kube-apiserver)");
    const [k, c] = await Promise.allSettled([
      startKafka({
        libs: tools.kafkaLibs,
        podAddress: net.gateway,
        workDir: join(stateDir, "kafka"),
      }),
      startKube({
        etcd: tools.etcd,
        kubeApiserver: tools.kubeApiserver,
        workDir: join(stateDir, "kube"),
        node: {
          address: net.gateway,
          serviceCidr: net.serviceCidr,
          kubernetesServiceIp: net.kubernetesServiceIp,
        },
      }),
    ]);
    if (k.status === "fulfilled") kafka = k.value;
    if (c.status === "fulfilled") kube = c.value;
    if (k.status === "rejected") throw k.reason;
    if (c.status === "rejected") throw c.reason;
    const controlPlane = c.value;
    progress("starting the node (containerd, kubelet, kube-proxy, scheduler, controller-manager)");
    node = await startNode({
      kube: controlPlane,
      bin: tools.node,
      network: net,
      stateDir,
      pause: tools.pause,
      images: opts.images,
    });
    const kubectl = kubectlFor(tools.kubectl, controlPlane.kubeconfigPath);
    progress("waiting for the node to be Ready");
    await until(
      "node Ready, ServiceAccount default and ConfigMap kube-root-ca.crt in namespace default",
      async () => {
        await kubectl(["wait", "--for=condition=Ready", `node/${net.nodeName}`, "--timeout=5s"]);
        await kubectl([
          "get",
          "serviceaccount/default",
          "configmap/kube-root-ca.crt",
          "-n",
          "default",
        ]);
        return true;
      },
      120_000,
      500,
      () => [node?.processes.kubelet?.logTail(30), controlPlane.apiserverLogFile].join("\n"),
    );
    const cluster: Cluster = {
      network: net,
      kafka: k.value,
      kube: controlPlane,
      node,
      host,
      stateDir,
      kubectl,
      restartKafka: async (downMs) => {
        const old = cluster.kafka;
        await old.stop();
        await new Promise((r) => setTimeout(r, downMs));
        kafka = await startKafka({
          libs: tools.kafkaLibs,
          podAddress: net.gateway,
          workDir: old.workDir,
          ports: old.ports,
        });
        cluster.kafka = kafka;
      },
      stop: async () => {
        await drain(kubectl);
        await teardown();
      },
    };
    return cluster;
  } catch (err) {
    await teardown();
    throw err;
  }
}

export function kubectlFor(binary: string, kubeconfig: string) {
  return async (args: string[], input?: string): Promise<string> => {
    const child = run(binary, ["--kubeconfig", kubeconfig, ...args], { maxBuffer: 32 << 20 });
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    try {
      return (await child).stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new ComponentError(`kubectl ${args.join(" ")}: ${e.stderr?.trim() || e.message}`);
    }
  };
}

/** Deletes the workload namespaces while kubelet and Kafka still run, so sidecars can drain. */
async function drain(kubectl: (args: string[]) => Promise<string>): Promise<void> {
  const system = new Set(["default", "kube-system", "kube-public", "kube-node-lease"]);
  try {
    const names = (await kubectl(["get", "namespaces", "-o", "name"]))
      .split("\n")
      .map((n) => n.replace(/^namespace\//, ""))
      .filter((n) => n && !system.has(n));
    await kubectl(["delete", "pods", "--all", "-n", "default", "--wait=false"]);
    if (names.length > 0) {
      await kubectl(["delete", "namespace", ...names, "--wait=true", "--timeout=60s"]);
    }
  } catch {
    // Best effort: host.sh down takes whatever is left.
  }
}
