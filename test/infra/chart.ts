// helm with the chart of this repository, as the e2e tests and `npm run local` install it: the
// built image, imported into the node and never pulled, two operator replicas, and --wait so
// that the call returns when the kubelet has made both Ready.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ComponentError } from "./process.ts";

export const CHART = join(import.meta.dirname, "..", "..", "charts", "auditready");
export const RELEASE = "auditready";
export const SYSTEM_NAMESPACE = "auditready-system";

export type Helm = (args: string[]) => string;

/** helm against this kubeconfig, with its cache, config and data in a temp folder. */
export function helmFor(binary: string, kubeconfig: string): Helm {
  const home = mkdtempSync(join(tmpdir(), "auditready-helm-"));
  return (args) => {
    const r = spawnSync(binary, args, {
      encoding: "utf8",
      env: {
        ...process.env,
        KUBECONFIG: kubeconfig,
        HELM_CACHE_HOME: join(home, "cache"),
        HELM_CONFIG_HOME: join(home, "config"),
        HELM_DATA_HOME: join(home, "data"),
      },
    });
    if (r.status !== 0) {
      throw new ComponentError(`helm ${args.join(" ")} exited ${r.status}: ${r.stderr || r.error}`);
    }
    return r.stdout;
  };
}

/** `--set` pairs for the built image (`name:tag`), imported and never pulled. */
export function imageValues(image: string): string[] {
  const at = image.lastIndexOf(":");
  return [
    "--set",
    `image.repository=${image.slice(0, at)}`,
    "--set",
    `image.tag=${image.slice(at + 1)}`,
    "--set",
    "image.pullPolicy=Never",
  ];
}

export function installChart(
  helm: Helm,
  image: string,
  cluster: string,
  extra: string[] = [],
): void {
  helm([
    "install",
    RELEASE,
    CHART,
    "--namespace",
    SYSTEM_NAMESPACE,
    "--create-namespace",
    "--set",
    `cluster=${cluster}`,
    ...imageValues(image),
    ...extra,
    "--wait",
    "--timeout",
    "240s",
  ]);
}
