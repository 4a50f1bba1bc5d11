// Shared by the operator's integration tests: an admin client on the real API server, a probe
// loop, and an idempotent CRD install (every test file installs the same cluster-scoped CRD).
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
} from "@kubernetes/client-node";
import { CRD_FILE } from "../../operator/api/generate-crd.ts";
import { GROUP, PLURAL, VERSION } from "../../operator/api/policy.ts";
import { endpoint } from "../infra/endpoints.ts";

export function adminConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(endpoint("kubeconfig"));
  return kc;
}

export const runId = () => randomUUID().slice(0, 8);

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms (last error: ${String(last)})`);
}

export async function installCrd(kc: KubeConfig): Promise<void> {
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  const name = `${PLURAL}.${GROUP}`;
  // kubectl applies the shipped YAML as is; the typed client would drop x-kubernetes-* keys,
  // enum and default (its model renames them). Server-side apply is idempotent across files.
  await until("CRD applied", async () => {
    execFileSync(endpoint("kubectl"), [
      "--kubeconfig",
      endpoint("kubeconfig"),
      "apply",
      "--server-side",
      "--force-conflicts",
      "-f",
      CRD_FILE.pathname,
    ]);
    return true;
  });
  await until("CRD established", async () => {
    const crd = await ext.readCustomResourceDefinition({ name });
    return (
      crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") ||
      undefined
    );
  });
  // A new CRD's endpoints answer 404/429 for a moment after Established: wait until listable.
  const objects = kc.makeApiClient(CustomObjectsApi);
  await until("CRD served", () =>
    objects.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }),
  );
}

export async function createNamespace(
  kc: KubeConfig,
  name: string,
  labels: Record<string, string> = {},
) {
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name, labels } } });
}

export const policyRef = (namespace: string) => ({
  group: GROUP,
  version: VERSION,
  namespace,
  plural: PLURAL,
});

export function policyBody(name: string, spec: Record<string, unknown>) {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: "AuditPolicy", metadata: { name }, spec };
}
