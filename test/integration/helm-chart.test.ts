// The Helm chart (charts/auditready) with the real helm and the real API server: it renders the
// RBAC of operator/rbac.ts exactly and a hardened Deployment whose environment the operator
// accepts; installed, the operator process (operator/main.ts, under the chart's ServiceAccount
// and the chart's environment) fills the chart's empty MutatingWebhookConfiguration; an upgrade
// keeps the operator's webhooks; an uninstall removes the configuration, so no fail-closed
// webhook outlives the operator.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
} from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { rbacManifests } from "../../operator/rbac.ts";
import { readSettings } from "../../operator/settings.ts";
import { endpoint } from "../infra/endpoints.ts";
import { serviceAccountKubeconfig } from "../infra/kube.ts";
import { freePort } from "../infra/process.ts";
import {
  adminConfig,
  createNamespace,
  INSTANCE_LABEL,
  installCrd,
  minimalSpec,
  policyBody,
  policyRef,
  runId,
  until,
} from "./operator-support.ts";

const CHART = new URL("../../charts/auditready", import.meta.url).pathname;
const ROOT = new URL("../..", import.meta.url).pathname;
const kc = adminConfig();
const run = runId();
const release = `ar-${run}`;
const fullname = `${release}-operator`;
const namespace = `auditready-chart-${run}`;
const helmHome = mkdtempSync(join(tmpdir(), "auditready-helm-"));
afterAll(() => rmSync(helmHome, { recursive: true, force: true }));

function helm(args: string[]): string {
  const r = spawnSync(endpoint("helm"), args, {
    encoding: "utf8",
    // helm's own cache, config and data in a folder of this run, removed at the end.
    env: {
      ...process.env,
      KUBECONFIG: endpoint("kubeconfig"),
      HELM_CACHE_HOME: join(helmHome, "cache"),
      HELM_CONFIG_HOME: join(helmHome, "config"),
      HELM_DATA_HOME: join(helmHome, "data"),
    },
  });
  if (r.status !== 0) throw new Error(`helm ${args.join(" ")} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

type Manifest = { kind: string; metadata: { name: string; namespace?: string } } & Record<
  string,
  unknown
>;

function render(values: string[]): Manifest[] {
  const out = helm(["template", release, CHART, "--namespace", namespace, ...values]);
  return parseAllDocuments(out)
    .map((d) => d.toJSON() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

const names = {
  name: fullname,
  namespace,
  serviceAccount: fullname,
  webhookConfiguration: fullname,
  lease: fullname,
};
const RBAC_KINDS = new Set([
  "ServiceAccount",
  "ClusterRole",
  "ClusterRoleBinding",
  "Role",
  "RoleBinding",
]);

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

/** The operator container's environment as the kubelet would give it to this pod. */
function podEnv(deployment: Manifest, podName: string): Record<string, string> {
  const spec = (deployment.spec as { template: { spec: { containers: { env: EnvVar[] }[] } } })
    .template.spec;
  const env: Record<string, string> = {};
  for (const e of spec.containers[0]?.env ?? []) {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    env[e.name] =
      e.value ??
      (field === "metadata.namespace" ? namespace : field === "metadata.name" ? podName : "");
  }
  return env;
}

describe("the Helm chart", () => {
  it("renders operator/rbac.ts' RBAC exactly, the rollout role only when asked", () => {
    const rbacOf = (ms: Manifest[]) => ms.filter((m) => RBAC_KINDS.has(m.kind));
    expect(rbacOf(render(["--set", "cluster=prod"]))).toEqual(rbacManifests(names));
    const withRollout = rbacOf(render(["--set", "cluster=prod", "--set", "rollout.restart=true"]));
    // Same objects, helm's kind order: compare as sets.
    const key = (m: unknown) => JSON.stringify(m);
    expect(withRollout.map(key).sort()).toEqual(
      rbacManifests({ ...names, rollout: true })
        .map(key)
        .sort(),
    );
  });

  it("renders a hardened Deployment whose environment the operator accepts, and needs a cluster name", () => {
    const ms = render(["--set", "cluster=prod-eu", "--set", "policySelector=tier=payments"]);
    const deployment = ms.find((m) => m.kind === "Deployment") as Manifest;
    const pod = (
      deployment.spec as {
        template: {
          spec: {
            serviceAccountName: string;
            securityContext: unknown;
            containers: { securityContext: unknown }[];
          };
        };
      }
    ).template.spec;
    expect(pod.serviceAccountName).toBe(fullname);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod.containers[0]?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    const read = readSettings(podEnv(deployment, "op-0"));
    if (!read.ok) throw new Error(read.message);
    expect(read.settings).toMatchObject({
      AUDITREADY_CLUSTER: "prod-eu",
      AUDITREADY_NAMESPACE: namespace,
      POD_NAME: "op-0",
      AUDITREADY_WEBHOOK_SERVICE: fullname,
      AUDITREADY_WEBHOOK_CONFIGURATION: fullname,
      AUDITREADY_LEASE: fullname,
      AUDITREADY_POLICY_SELECTOR: "tier=payments",
    });
    // The Service the webhook entries name selects the Deployment's pods, on the webhook port.
    const service = ms.find((m) => m.kind === "Service") as Manifest;
    expect((service.spec as { selector: unknown }).selector).toEqual(
      (deployment.spec as { selector: { matchLabels: unknown } }).selector.matchLabels,
    );
    const webhooks = ms.find((m) => m.kind === "MutatingWebhookConfiguration") as Manifest;
    expect(webhooks.metadata.name).toBe(fullname);
    expect(webhooks).not.toHaveProperty("webhooks");
    expect(() => render([])).toThrow(/cluster is required/);
    // values.schema.json: a bad value or a misspelt key is an error that names it.
    expect(() => render(["--set", "cluster=a", "--set", "logLevel=verbose"])).toThrow(
      /logLevel.*must be one of/,
    );
    expect(() => render(["--set", "cluster=a", "--set", "replica=3"])).toThrow(
      /'replica' not allowed/,
    );
  });

  it("renders the witness only when enabled: a StatefulSet running verify --follow, a Role for that policy alone", () => {
    const base = ["--set", "cluster=prod"];
    expect(render(base).filter((m) => m.metadata.name.startsWith("auditready-witness"))).toEqual(
      [],
    );
    const ms = render([
      ...base,
      "--set",
      "witness.enabled=true",
      "--set",
      "witness.policies[0].policy=payments/payments-api",
      "--set",
      "witness.policies[0].brokers[0]=kafka:9092",
      "--set",
      "witness.policies[0].topic=audit.payments",
      "--set",
      "witness.policies[0].keySecret=payments-witness-key",
      "--set",
      "witness.policies[0].replicas=3",
    ]);
    const mine = ms.filter((m) => m.metadata.name === "auditready-witness-payments-api");
    expect(mine.map((m) => `${m.kind} ${m.metadata.namespace}`).sort()).toEqual([
      "Role payments",
      "RoleBinding payments",
      "ServiceAccount payments",
      "StatefulSet payments",
    ]);
    const role = mine.find((m) => m.kind === "Role") as Manifest;
    // Only this policy's public keys and status; its key is a mounted Secret, not an API right.
    expect(role.rules).toEqual([
      {
        apiGroups: [""],
        resources: ["configmaps"],
        resourceNames: ["auditready-payments-api-keys"],
        verbs: ["get"],
      },
      {
        apiGroups: ["auditready.dev"],
        resources: ["auditpolicies/status"],
        resourceNames: ["payments-api"],
        // get: replicas read each other's shards of status.integrity to write their sum.
        verbs: ["get", "patch"],
      },
    ]);
    const sts = mine.find((m) => m.kind === "StatefulSet") as Manifest;
    const spec = sts.spec as {
      replicas: number;
      template: {
        spec: {
          serviceAccountName: string;
          containers: { args: string[]; env: EnvVar[]; volumeMounts: unknown[] }[];
          volumes: { name: string; secret?: { secretName: string } }[];
        };
      };
    };
    expect(spec.replicas).toBe(3);
    expect(spec.template.spec.serviceAccountName).toBe("auditready-witness-payments-api");
    const container = spec.template.spec.containers[0];
    expect(container?.args).toEqual([
      "verify",
      "--follow",
      "--brokers",
      "kafka:9092",
      "--topic",
      "audit.payments",
      "--witness",
      "audit.payments.witness",
      "--keys",
      "configmap:payments/auditready-payments-api-keys",
      "--witness-key",
      "/etc/auditready-witness/witness.key",
      "--status",
      "payments/payments-api",
      "--replicas",
      "3",
    ]);
    // The replica number comes from the pod's name (its StatefulSet ordinal).
    expect(container?.env).toEqual([
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    ]);
    expect(spec.template.spec.volumes.find((v) => v.name === "key")?.secret?.secretName).toBe(
      "payments-witness-key",
    );
    expect(() =>
      render([
        ...base,
        "--set",
        "witness.enabled=true",
        "--set",
        "witness.policies[0].policy=payments/payments-api",
        "--set",
        "witness.policies[0].brokers[0]=kafka:9092",
        "--set",
        "witness.policies[0].topic=audit.payments",
      ]),
    ).toThrow(/keySecret/);
  });

  describe("installed into the real API server", () => {
    let child: ChildProcess | undefined;
    let output = "";
    afterAll(async () => {
      child?.kill("SIGKILL");
      try {
        helm(["uninstall", release, "--namespace", namespace]);
      } catch {
        // uninstalled by the test already
      }
    });

    it("the operator under the chart's ServiceAccount fills the chart's webhooks; upgrade keeps them; uninstall removes them", async () => {
      await installCrd(kc); // shared by the tests; the chart's crds/ skips a CRD that exists
      // The values installed are the values the operator below runs with.
      const values = ["--set", "cluster=it", "--set", `policySelector=${INSTANCE_LABEL}=${run}`];
      helm(["install", release, CHART, "--namespace", namespace, "--create-namespace", ...values]);
      const admission = kc.makeApiClient(AdmissionregistrationV1Api);
      const webhooks = async () =>
        (await admission.readMutatingWebhookConfiguration({ name: fullname })).webhooks ?? [];
      expect(await webhooks()).toEqual([]);

      // operator/main.ts with the chart's environment, as the chart's ServiceAccount; the API
      // server reaches it on 127.0.0.1 (no cluster network here), hence the URL and port.
      const deployment = render(values).find((m) => m.kind === "Deployment") as Manifest;
      const port = await freePort();
      const saKubeconfig = await serviceAccountKubeconfig(
        endpoint("kubeconfig"),
        namespace,
        fullname,
      );
      child = spawn(process.execPath, ["operator/main.ts"], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? "",
          ...podEnv(deployment, `${fullname}-0`),
          KUBECONFIG: saKubeconfig,
          AUDITREADY_WEBHOOK_HOST: "127.0.0.1",
          AUDITREADY_WEBHOOK_PORT: String(port),
          AUDITREADY_WEBHOOK_URL: `https://127.0.0.1:${port}/mutate`,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      for (const s of [child.stdout, child.stderr])
        s?.on("data", (c: Buffer) => {
          output += c.toString();
        });
      const app = `chart-${run}`;
      await createNamespace(kc, app);
      await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
        ...policyRef(app),
        body: policyBody("p", minimalSpec("p", `it.chart.${run}`), run),
      });
      await until("the operator registered the policy's webhook", async () =>
        (await webhooks()).length > 0 ? true : undefined,
      ).catch((err) => {
        throw new Error(`${err}\noperator output:\n${output}`);
      });
      const registered = (await webhooks()).map((w) => w.name);

      // Stopped first, so it cannot re-add what an upgrade would have removed.
      const exited = new Promise((r) => child?.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      helm(
        ["upgrade", release, CHART, "--namespace", namespace, "--reuse-values"].concat([
          "--set",
          "logLevel=debug",
        ]),
      );
      expect((await webhooks()).map((w) => w.name)).toEqual(registered);

      helm(["uninstall", release, "--namespace", namespace]);
      await expect(webhooks()).rejects.toMatchObject({ code: 404 });
      await expect(
        kc.makeApiClient(RbacAuthorizationV1Api).readClusterRole({ name: fullname }),
      ).rejects.toMatchObject({ code: 404 });
      await expect(
        kc.makeApiClient(CoreV1Api).readNamespacedServiceAccount({ namespace, name: fullname }),
      ).rejects.toMatchObject({ code: 404 });
    });
  });
});

// helm runs at all (the toolchain built it): fail loudly here rather than in every test.
execFileSync(endpoint("helm"), ["version", "--short"]);
