// Shared by the operator's integration tests: an admin client on the real API server, a probe
// loop, and an idempotent CRD install (every test file installs the same cluster-scoped CRD).
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  AdmissionregistrationV1Api,
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type V1ClusterRole,
  type V1ClusterRoleBinding,
  type V1Pod,
  type V1Role,
  type V1RoleBinding,
} from "@kubernetes/client-node";
import { pino } from "pino";
import { CRD_FILE } from "../../operator/api/generate-crd.ts";
import { type AuditPolicyStatus, GROUP, PLURAL, VERSION } from "../../operator/api/policy.ts";
import { type RbacOptions, rbacManifests } from "../../operator/rbac.ts";
import { type Operator, type OperatorOptions, startOperator } from "../../operator/run.ts";
import { endpoint } from "../infra/endpoints.ts";
import { serviceAccountKubeconfig } from "../infra/kube.ts";
import { freePort } from "../infra/process.ts";

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

/** The label a test's operator selects its policies by (tests share one API server). */
export const INSTANCE_LABEL = "auditready.dev/test-instance";

/** The smallest valid spec the tests need: pods labelled app=<app>, JSON logs, a topic on the test broker. */
export function minimalSpec(app: string, topic: string, extra: Record<string, unknown> = {}) {
  return {
    selector: { matchLabels: { app } },
    source: { paths: ["/logs/access.log"], format: "json" },
    sink: { kafka: { brokers: [endpoint("kafkaBootstrap")], topic } },
    retention: { days: 1, replicas: 1, minInSync: 1 },
    ...extra,
  };
}

export function policyBody(name: string, spec: Record<string, unknown>, instance?: string) {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: "AuditPolicy",
    metadata: { name, ...(instance && { labels: { [INSTANCE_LABEL]: instance } }) },
    spec,
  };
}

export interface Deployment {
  namespace: string;
  names: RbacOptions;
  saConfig: KubeConfig;
  saKubeconfigPath: string;
  start(identity: string, over?: Partial<OperatorOptions>): Promise<Operator>;
  cleanup(): Promise<void>;
}

/**
 * Installs what the chart would (ServiceAccount, the RBAC from operator/rbac.ts, an empty
 * MutatingWebhookConfiguration) under names unique to this run, as the admin; start() then runs
 * an operator replica in this process that talks to the API server only as that ServiceAccount.
 */
export async function deployOperator(
  kc: KubeConfig,
  run: string,
  opts: { rollout?: boolean } = {},
): Promise<Deployment> {
  const names: RbacOptions = {
    ...(opts.rollout && { rollout: true }),
    name: `auditready-operator-${run}`,
    namespace: `auditready-${run}`,
    serviceAccount: "auditready-operator",
    webhookConfiguration: `auditready-${run}`,
    lease: "auditready-operator",
  };
  const saConfig = new KubeConfig();
  const saKubeconfigPath = await serviceAccountKubeconfig(
    endpoint("kubeconfig"),
    names.namespace,
    names.serviceAccount,
  );
  saConfig.loadFromFile(saKubeconfigPath);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  for (const m of rbacManifests(names)) {
    const kind = m.kind as string;
    if (kind === "ClusterRole") await rbac.createClusterRole({ body: m as V1ClusterRole });
    if (kind === "ClusterRoleBinding")
      await rbac.createClusterRoleBinding({ body: m as unknown as V1ClusterRoleBinding });
    if (kind === "Role")
      await rbac.createNamespacedRole({ namespace: names.namespace, body: m as V1Role });
    if (kind === "RoleBinding")
      await rbac.createNamespacedRoleBinding({
        namespace: names.namespace,
        body: m as unknown as V1RoleBinding,
      });
  }
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  await admission.createMutatingWebhookConfiguration({
    body: { metadata: { name: names.webhookConfiguration }, webhooks: [] },
  });
  const log = pino({ level: process.env.AUDITREADY_TEST_LOG ?? "silent" });
  const running: Operator[] = [];
  return {
    namespace: names.namespace,
    names,
    saConfig,
    saKubeconfigPath,
    async start(identity, over = {}) {
      const port = await freePort();
      const op = await startOperator({
        kc: saConfig,
        namespace: names.namespace,
        cluster: "it-cluster",
        identity,
        log: log.child({ identity }),
        webhook: {
          host: "127.0.0.1",
          port,
          endpoint: { url: `https://127.0.0.1:${port}/mutate` },
          configurationName: names.webhookConfiguration,
          certSecretName: "auditready-webhook-cert",
          dnsNames: [],
          ipAddresses: ["127.0.0.1"],
        },
        leaseName: names.lease,
        policySelector: `${INSTANCE_LABEL}=${run}`,
        leaseMs: 4_000,
        renewMs: 500,
        ...over,
      });
      running.push(op);
      return op;
    },
    async cleanup() {
      await Promise.allSettled(running.map((op) => op.stop()));
      await admission.deleteMutatingWebhookConfiguration({ name: names.webhookConfiguration });
      for (const m of rbacManifests(names)) {
        const name = (m.metadata as { name: string }).name;
        if (m.kind === "ClusterRoleBinding") await rbac.deleteClusterRoleBinding({ name });
        if (m.kind === "ClusterRole") await rbac.deleteClusterRole({ name });
      }
    },
  };
}

/** A pod spec as tests create them: no kubelet runs, so it stays Pending unless a test says so. */
export function podBody(
  name: string,
  labels: Record<string, string>,
  extra: Partial<V1Pod> = {},
): V1Pod {
  return {
    metadata: { name, labels, ...extra.metadata },
    spec: { containers: [{ name: "api", image: "registry.invalid/app:1" }], ...extra.spec },
  };
}

/** Plays the kubelet: writes the sidecar's (and the app's) readiness into the pod status. */
export async function setSidecarReady(
  kc: KubeConfig,
  namespace: string,
  name: string,
  ready: boolean,
) {
  const core = kc.makeApiClient(CoreV1Api);
  const waiting = { waiting: { reason: "ContainerCreating" } };
  const running = { running: { startedAt: new Date().toISOString() } };
  const status = (n: string, image: string) => ({
    name: n,
    image,
    imageID: "",
    ready,
    restartCount: 0,
    started: ready,
    state: ready ? running : waiting,
  });
  await core.patchNamespacedPodStatus(
    {
      namespace,
      name,
      body: {
        status: {
          phase: ready ? "Running" : "Pending",
          initContainerStatuses: [status("auditready-sidecar", "auditready:0.1.0")],
          containerStatuses: [status("api", "registry.invalid/app:1")],
        },
      },
    },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
}

export async function readPolicy(kc: KubeConfig, namespace: string, name: string) {
  return (await kc
    .makeApiClient(CustomObjectsApi)
    .getNamespacedCustomObject({ ...policyRef(namespace), name })) as {
    metadata: { generation: number };
    status?: AuditPolicyStatus;
  };
}
