// The injection webhook, called by the real API server over https://127.0.0.1, with the
// operator running under its own ServiceAccount and RBAC: pods are stored as the patch left
// them, re-invocation after another webhook's change does not inject twice, Enforce refuses
// what it cannot inject with the reason, Audit admits it, and excluded namespaces are untouched.
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type V1Pod,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CertificateAuthority } from "../../operator/webhook/pki.ts";
import {
  adminConfig,
  createNamespace,
  type Deployment,
  deployOperator,
  installCrd,
  minimalSpec,
  podBody,
  policyBody,
  policyRef,
  runId,
  until,
} from "./operator-support.ts";

const kc = adminConfig();
const core = kc.makeApiClient(CoreV1Api);
const objects = kc.makeApiClient(CustomObjectsApi);
const run = runId();
const namespace = `inject-${run}`;
let deployment: Deployment;

const spec = (app: string, enforcement: "Audit" | "Enforce", extra: Record<string, unknown> = {}) =>
  minimalSpec(app, `it.inject.${run}.${app}`, {
    source: { paths: ["/var/log/app/access*.log"], format: "json" },
    enforcement,
    ...extra,
  });

async function injectionInEffect(app: string) {
  let n = 0;
  await until(
    `webhook for ${app} in effect`,
    async () => {
      const created = await core.createNamespacedPod({
        namespace,
        body: podBody(`probe-${app}-${n++}`, { app }),
      });
      return created.metadata?.annotations?.["auditready.dev/injected"] ? true : undefined;
    },
    30_000,
    200,
  );
}

async function refusal(body: V1Pod, ns = namespace): Promise<string> {
  try {
    await core.createNamespacedPod({ namespace: ns, body });
  } catch (err) {
    return (JSON.parse(String((err as { body?: string }).body)) as { message: string }).message;
  }
  throw new Error("the pod was admitted");
}

describe("the injection webhook on the real API server", () => {
  beforeAll(async () => {
    await installCrd(kc);
    deployment = await deployOperator(kc, run);
    await deployment.start("inject-a");
    await createNamespace(kc, namespace);
    for (const [name, s] of [
      ["web", spec("web", "Audit")],
      ["strict", spec("strict", "Enforce", { containers: ["api"] })],
    ] as const) {
      await objects.createNamespacedCustomObject({
        ...policyRef(namespace),
        body: policyBody(name, s, run),
      });
    }
    await injectionInEffect("web");
    await injectionInEffect("strict");
  });
  afterAll(async () => {
    await deployment?.cleanup();
  });

  it("stores the pod with a native sidecar, hardened, with the shared log volume and identity env", async () => {
    await core.createNamespacedPod({ namespace, body: podBody("app-1", { app: "web" }) });
    const pod = await core.readNamespacedPod({ namespace, name: "app-1" });
    expect(pod.metadata?.annotations?.["auditready.dev/injected"]).toBe("web@1");
    const sidecar = pod.spec?.initContainers?.find((c) => c.name === "auditready-sidecar");
    expect(sidecar?.restartPolicy).toBe("Always");
    expect(sidecar?.image).toBe("auditready:0.1.0");
    // The image's entrypoint (`auditready`) with its sidecar command.
    expect(sidecar?.command).toBeUndefined();
    expect(sidecar?.args).toEqual(["sidecar"]);
    expect(sidecar?.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(sidecar?.env?.map((e) => e.name)).toEqual([
      "AUDITREADY_CLUSTER",
      "AUDITREADY_CONFIG",
      "POD_NAME",
      "POD_NAMESPACE",
      "POD_UID",
      "NODE_NAME",
      "POD_SERVICE_ACCOUNT",
    ]);
    expect(sidecar?.volumeMounts?.map((m) => m.mountPath)).toContain("/var/log/app");
    expect(pod.spec?.containers[0]?.volumeMounts).toContainEqual(
      expect.objectContaining({
        mountPath: "/var/log/app",
        subPath: "api",
        name: "auditready-logs-0",
      }),
    );
    const config = pod.spec?.volumes?.find((v) => v.name === "auditready-config");
    // The config and the certify CA only: no pod mounts a policy key any more.
    expect(config?.projected?.sources?.map((s) => s.configMap?.name ?? s.secret?.name)).toEqual([
      "auditready-web-config",
    ]);
  });

  it("leaves a pod the policies do not select untouched", async () => {
    await core.createNamespacedPod({ namespace, body: podBody("other", { app: "other" }) });
    const pod = await core.readNamespacedPod({ namespace, name: "other" });
    expect(pod.metadata?.annotations).toBeUndefined();
    expect(pod.spec?.initContainers).toBeUndefined();
  });

  it("does not inject twice when an already injected pod is created again", async () => {
    const stored = await core.readNamespacedPod({ namespace, name: "app-1" });
    const copy: V1Pod = {
      metadata: {
        name: "app-1-copy",
        labels: stored.metadata?.labels ?? {},
        annotations: stored.metadata?.annotations ?? {},
      },
      spec: stored.spec ?? { containers: [] },
    };
    await core.createNamespacedPod({ namespace, body: copy });
    const pod = await core.readNamespacedPod({ namespace, name: "app-1-copy" });
    expect(pod.spec?.initContainers?.filter((c) => c.name === "auditready-sidecar")).toHaveLength(
      1,
    );
    expect(
      pod.spec?.containers[0]?.volumeMounts?.filter((m) => m.mountPath === "/var/log/app"),
    ).toHaveLength(1);
  });

  describe("re-invoked after another webhook changes the pod", () => {
    const other = `zz-other-${run}`;
    let server: Server;
    const calls: number[] = [];
    beforeAll(async () => {
      const ca = CertificateAuthority.create("other-webhook");
      const leaf = ca.issue({
        commonName: "127.0.0.1",
        ipAddresses: ["127.0.0.1"],
        usage: "server",
      });
      // A webhook that adds a label once: the API server then re-invokes ours (IfNeeded).
      server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
        let body = "";
        req.on("data", (c: Buffer) => {
          body += c.toString();
        });
        req.on("end", () => {
          const review = JSON.parse(body) as { request: { uid: string; object: V1Pod } };
          const labelled = review.request.object.metadata?.labels?.touched === "yes";
          calls.push(review.request.object.spec?.initContainers?.length ?? 0);
          const patch = labelled
            ? []
            : [{ op: "add", path: "/metadata/labels/touched", value: "yes" }];
          res.setHeader("content-type", "application/json");
          res.end(
            JSON.stringify({
              apiVersion: "admission.k8s.io/v1",
              kind: "AdmissionReview",
              response: {
                uid: review.request.uid,
                allowed: true,
                ...(patch.length > 0 && {
                  patchType: "JSONPatch",
                  patch: Buffer.from(JSON.stringify(patch)).toString("base64"),
                }),
              },
            }),
          );
        });
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
        body: {
          metadata: { name: other },
          webhooks: [
            {
              name: "other.test.auditready.dev",
              admissionReviewVersions: ["v1"],
              sideEffects: "None",
              failurePolicy: "Fail",
              reinvocationPolicy: "IfNeeded",
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
              objectSelector: { matchLabels: { reinvoke: "yes" } },
              rules: [
                {
                  apiGroups: [""],
                  apiVersions: ["v1"],
                  operations: ["CREATE"],
                  resources: ["pods"],
                },
              ],
              clientConfig: {
                url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/`,
                caBundle: Buffer.from(ca.certPem).toString("base64"),
              },
            },
          ],
        },
      });
    });
    afterAll(async () => {
      await kc
        .makeApiClient(AdmissionregistrationV1Api)
        .deleteMutatingWebhookConfiguration({ name: other });
      server.close();
    });

    it("keeps exactly one sidecar and the other webhook's change", async () => {
      let n = 0;
      const pod = await until("other webhook in effect", async () => {
        const name = `reinvoked-${n++}`;
        const created = await core.createNamespacedPod({
          namespace,
          body: podBody(name, { app: "web", reinvoke: "yes" }),
        });
        return created.metadata?.labels?.touched === "yes" ? created : undefined;
      });
      expect(pod.spec?.initContainers?.filter((c) => c.name === "auditready-sidecar")).toHaveLength(
        1,
      );
      expect(pod.spec?.initContainers?.[0]?.restartPolicy).toBe("Always");
      expect(pod.metadata?.annotations?.["auditready.dev/injected"]).toBe("web@1");
    });
  });

  it("Enforce refuses a selected pod it cannot inject, saying why", async () => {
    const body = podBody(
      "strict-bad",
      { app: "strict" },
      {
        spec: { containers: [{ name: "web", image: "registry.invalid/app:1" }] },
      },
    );
    const message = await refusal(body);
    expect(message).toContain(
      `AuditPolicy ${namespace}/strict (Enforce) cannot inject the audit sidecar`,
    );
    expect(message).toContain("the pod has no container named api (ContainerNotFound)");
  });

  it("Enforce refuses a selected pod that opts out", async () => {
    const message = await refusal(
      podBody(
        "strict-optout",
        { app: "strict" },
        { metadata: { name: "strict-optout", annotations: { "auditready.dev/inject": "false" } } },
      ),
    );
    expect(message).toContain(
      `AuditPolicy ${namespace}/strict enforces audit logging for this pod`,
    );
  });

  it("Audit admits an opted-out pod without the sidecar", async () => {
    await core.createNamespacedPod({
      namespace,
      body: podBody(
        "web-optout",
        { app: "web" },
        { metadata: { name: "web-optout", annotations: { "auditready.dev/inject": "false" } } },
      ),
    });
    const pod = await core.readNamespacedPod({ namespace, name: "web-optout" });
    expect(pod.spec?.initContainers).toBeUndefined();
  });

  it("leaves alone a policy outside its label selector (another installation's)", async () => {
    await objects.createNamespacedCustomObject({
      ...policyRef(namespace),
      body: policyBody("unlabelled", spec("unl", "Enforce", { containers: ["api"] })),
    });
    await new Promise((r) => setTimeout(r, 1_500));
    const p = (await objects.getNamespacedCustomObject({
      ...policyRef(namespace),
      name: "unlabelled",
    })) as { status?: unknown };
    expect(p.status).toBeUndefined();
    // Enforce would refuse this pod (no container "api") if this operator had taken the policy.
    await core.createNamespacedPod({
      namespace,
      body: podBody(
        "unl-1",
        { app: "unl" },
        { spec: { containers: [{ name: "web", image: "x" }] } },
      ),
    });
  });

  it("never selects the operator's own namespace, even for an Enforce policy there", async () => {
    const ns = deployment.namespace;
    await objects.createNamespacedCustomObject({
      ...policyRef(ns),
      body: policyBody("self", spec("self", "Enforce", { containers: ["api"] }), run),
    });
    // Give the operator time to reconcile; the entry must still never select its namespace.
    await new Promise((r) => setTimeout(r, 1_500));
    await core.createNamespacedPod({
      namespace: ns,
      body: podBody(
        "self-1",
        { app: "self" },
        { spec: { containers: [{ name: "web", image: "x" }] } },
      ),
    });
    const pod = await core.readNamespacedPod({ namespace: ns, name: "self-1" });
    expect(pod.metadata?.annotations?.["auditready.dev/injected"]).toBeUndefined();
    expect(pod.spec?.initContainers).toBeUndefined();
    const mwc = await kc
      .makeApiClient(AdmissionregistrationV1Api)
      .readMutatingWebhookConfiguration({ name: deployment.names.webhookConfiguration });
    for (const w of mwc.webhooks ?? []) {
      const values = w.namespaceSelector?.matchExpressions?.find(
        (e) => e.operator === "NotIn",
      )?.values;
      expect(values).toEqual(expect.arrayContaining(["kube-system", ns]));
    }
    // Only this file's two policies outside the operator's namespace have entries.
    expect(
      mwc.webhooks?.map((w) => w.namespaceSelector?.matchExpressions?.[0]?.values?.[0]),
    ).toEqual([namespace, namespace]);
  });

  it("drops a deleted policy's webhook entry, after which its pods are admitted untouched", async () => {
    await objects.deleteNamespacedCustomObject({ ...policyRef(namespace), name: "web" });
    await until("entry removed", async () => {
      const mwc = await kc
        .makeApiClient(AdmissionregistrationV1Api)
        .readMutatingWebhookConfiguration({ name: deployment.names.webhookConfiguration });
      return mwc.webhooks?.length === 1 ? true : undefined;
    });
    let n = 0;
    await until("no longer injected", async () => {
      const pod = await core.createNamespacedPod({
        namespace,
        body: podBody(`gone-${n++}`, { app: "web" }),
      });
      return pod.spec?.initContainers === undefined ? true : undefined;
    });
  });
});
