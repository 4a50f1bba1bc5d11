// Finds (installing on first use) the real component binaries: each test/infra/*/build.sh or
// fetch.sh prints its cached folder on stdout and its progress on stderr, which we pass
// through so a first run of several minutes is never silent.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ComponentError } from "./process.ts";

const infraDir = import.meta.dirname;

export interface Toolchain {
  kafkaLibs: string;
  etcd: string;
  kubeApiserver: string;
  kubectl: string;
  helm: string;
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

/** Kafka's jars resolve while the Go builds run one after the other (each uses every core). */
export async function ensureToolchain(): Promise<Toolchain> {
  const kafka = runScript("kafka/fetch.sh");
  const goBuilds = (async () => {
    const etcd = await runScript("etcd/build.sh");
    const kube = await runScript("kube/build.sh");
    const helm = await runScript("helm/build.sh");
    return { etcd, kube, helm };
  })();
  const [kafkaLibs, { etcd, kube, helm }] = await Promise.all([kafka, goBuilds]);
  return {
    kafkaLibs,
    etcd: join(etcd, "etcd"),
    kubeApiserver: join(kube, "kube-apiserver"),
    kubectl: join(kube, "kubectl"),
    helm: join(helm, "helm"),
  };
}
