// Finds (installing on first use) the real component binaries: each test/infra/*/build.sh or
// fetch.sh prints its cached folder on stdout and its progress on stderr, which we pass
// through so a first run of several minutes is never silent.
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { NodeBinaries } from "./node.ts";
import { ComponentError } from "./process.ts";

const infraDir = import.meta.dirname;

export interface Toolchain {
  kafkaLibs: string;
  etcd: string;
  kubeApiserver: string;
  kubectl: string;
  helm: string;
  /** A real node's daemons (kubelet and the rest) and the CNI plugins. */
  node: NodeBinaries;
  /** The pod sandbox image, built from Kubernetes' pause.c. */
  pause: { archive: string; name: string };
}

function runScript(relativePath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [join(infraDir, relativePath)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on("error", (err) => reject(new ComponentError(`${relativePath}: ${err.message}`)));
    // "close", not "exit": exit can come before the last of stdout has been read, and an empty
    // path then looked like a failed build (seen once as "failed (exit 0)").
    child.on("close", (code) => {
      const path = out.trim().split("\n").pop() ?? "";
      if (code === 0 && path) resolve(path);
      else
        reject(new ComponentError(`${relativePath} failed (exit ${code}); see its output above`));
    });
  });
}

/**
 * Kafka's jars resolve and the Debian packages install while the Go builds run one after the
 * other (each uses every core).
 */
export async function ensureToolchain(): Promise<Toolchain> {
  const kafka = runScript("kafka/fetch.sh");
  const cniBinDir = runScript("node/packages.sh");
  const goBuilds = (async () => {
    const etcd = await runScript("etcd/build.sh");
    const kube = await runScript("kube/build.sh");
    const helm = await runScript("helm/build.sh");
    await cniBinDir; // buildah and gcc for the pause image
    const pause = await runScript("node/pause.sh");
    return { etcd, kube, helm, pause };
  })();
  const [kafkaLibs, cni, { etcd, kube, helm, pause }] = await Promise.all([
    kafka,
    cniBinDir,
    goBuilds,
  ]);
  const version = /pause-(v[0-9.]+)/.exec(pause)?.[1] ?? "latest";
  return {
    kafkaLibs,
    etcd: join(etcd, "etcd"),
    kubeApiserver: join(kube, "kube-apiserver"),
    kubectl: join(kube, "kubectl"),
    helm: join(helm, "helm"),
    node: {
      kubelet: join(kube, "kubelet"),
      kubeScheduler: join(kube, "kube-scheduler"),
      kubeControllerManager: join(kube, "kube-controller-manager"),
      kubeProxy: join(kube, "kube-proxy"),
      cniBinDir: cni,
    },
    pause: { archive: pause, name: `localhost/auditready-pause:${version}` },
  };
}
