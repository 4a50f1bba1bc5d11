// Proves the integration API server is a real kube-apiserver backed by etcd: CRDs with a status
// subresource and watches work, RBAC is enforced for ServiceAccount tokens, and it calls a
// mutating admission webhook over HTTPS and stores the patched Pod.
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import {
  AdmissionregistrationV1Api,
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type V1Pod,
  VersionApi,
  Watch,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CertificateAuthority } from "../../operator/webhook/pki.ts";
import { endpoint } from "../infra/endpoints.ts";
import { serviceAccountKubeconfig } from "../infra/kube.ts";

const kc = new KubeConfig();
kc.loadFromFile(endpoint("kubeconfig"));
const core = kc.makeApiClient(CoreV1Api);
const run = randomUUID().slice(0, 8);

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
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
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms (last error: ${String(last)})`);
}

async function createNamespace(name: string, labels: Record<string, string> = {}) {
  await core.createNamespace({ body: { metadata: { name, labels } } });
}

describe("the integration API server", () => {
  it("is the kube-apiserver built by test/infra, backed by etcd", async () => {
    const version = await kc.makeApiClient(VersionApi).getCode();
    const pinned = readFileSync(new URL("../infra/kube/go.mod", import.meta.url), "utf8").match(
      /require k8s\.io\/kubernetes (v[\d.]+)/,
    )?.[1];
    expect(version.gitVersion).toBe(pinned);
    const cmdline = readFileSync(`/proc/${endpoint("kubeApiserverPid")}/cmdline`, "utf8").split(
      "\0",
    );
    expect(cmdline[0]).toMatch(/kube-apiserver$/);
    expect(cmdline.some((a) => a.startsWith("--etcd-servers=http://127.0.0.1:"))).toBe(true);
  });

  it("serves a CRD: create, watch, and a status subresource kept apart from spec", async () => {
    const group = "smoke.auditready.dev";
    const plural = `widgets${run}`;
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    await ext.createCustomResourceDefinition({
      body: {
        metadata: { name: `${plural}.${group}` },
        spec: {
          group,
          scope: "Namespaced",
          names: { plural, singular: `widget${run}`, kind: `Widget${run}` },
          versions: [
            {
              name: "v1",
              served: true,
              storage: true,
              subresources: { status: {} },
              schema: {
                openAPIV3Schema: {
                  type: "object",
                  properties: {
                    spec: { type: "object", properties: { size: { type: "integer", minimum: 1 } } },
                    status: { type: "object", properties: { ready: { type: "integer" } } },
                  },
                },
              },
            },
          ],
        },
      },
    });
    await until("CRD established", async () => {
      const crd = await ext.readCustomResourceDefinition({ name: `${plural}.${group}` });
      return (
        crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") ||
        undefined
      );
    });
    const namespace = `crd-${run}`;
    await createNamespace(namespace);

    // A new CRD's watch cache answers 429 until it is initialized: retry, as any watcher must.
    const events: string[] = [];
    const watch = await until("watch established", async () => {
      let failed: unknown;
      const controller = await new Watch(kc).watch(
        `/apis/${group}/v1/namespaces/${namespace}/${plural}`,
        {},
        (phase, obj: { metadata: { name: string } }) =>
          events.push(`${phase} ${obj.metadata.name}`),
        (err: unknown) => {
          failed = err;
          if (err) events.push(`ERROR ${String(err)}`);
        },
      );
      if (failed === undefined) return controller;
      events.length = 0;
      throw failed;
    });
    const objects = kc.makeApiClient(CustomObjectsApi);
    const ref = { group, version: "v1", namespace, plural };
    await objects.createNamespacedCustomObject({
      ...ref,
      body: {
        apiVersion: `${group}/v1`,
        kind: `Widget${run}`,
        metadata: { name: "w1" },
        spec: { size: 3 },
      },
    });
    await expect(
      objects.createNamespacedCustomObject({
        ...ref,
        body: {
          apiVersion: `${group}/v1`,
          kind: `Widget${run}`,
          metadata: { name: "bad" },
          spec: { size: 0 },
        },
      }),
    ).rejects.toThrow(/spec\.size/);

    const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
    await objects.patchNamespacedCustomObjectStatus(
      { ...ref, name: "w1", body: { status: { ready: 2 } } },
      merge,
    );
    // A patch of the main resource must not touch status: that is what the subresource means.
    await objects.patchNamespacedCustomObject(
      { ...ref, name: "w1", body: { spec: { size: 4 }, status: { ready: 99 } } },
      merge,
    );
    const stored = (await objects.getNamespacedCustomObject({ ...ref, name: "w1" })) as {
      spec: { size: number };
      status: { ready: number };
    };
    expect(stored.spec.size).toBe(4);
    expect(stored.status.ready).toBe(2);
    await until("watch events", async () => (events.length >= 3 ? true : undefined), 10_000).catch(
      (err) => {
        throw new Error(`${err}; events so far: ${JSON.stringify(events)}`);
      },
    );
    watch.abort();
    expect(events).toEqual(["ADDED w1", "MODIFIED w1", "MODIFIED w1"]);
  });

  it("authorizes a ServiceAccount token by RBAC: forbidden without a binding, allowed with one", async () => {
    const namespace = `rbac-${run}`;
    const saConfig = new KubeConfig();
    saConfig.loadFromFile(
      await serviceAccountKubeconfig(endpoint("kubeconfig"), namespace, "reader"),
    );
    const asSa = saConfig.makeApiClient(CoreV1Api);
    await expect(asSa.listNamespacedPod({ namespace })).rejects.toMatchObject({ code: 403 });

    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: "pod-reader" },
        rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["list"] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: "pod-reader" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pod-reader" },
        subjects: [{ kind: "ServiceAccount", name: "reader", namespace }],
      },
    });
    const pods = await until("binding in effect", () => asSa.listNamespacedPod({ namespace }));
    expect(pods.items).toEqual([]);
    // Still nothing beyond the role: secrets stay forbidden.
    await expect(asSa.listNamespacedSecret({ namespace })).rejects.toMatchObject({ code: 403 });
  });

  describe("calling a mutating webhook on https://127.0.0.1", () => {
    const namespace = `webhook-${run}`;
    const seen: string[] = [];
    let server: Server;
    const ca = CertificateAuthority.create("smoke-webhook-ca");
    const serving = ca.issue({
      commonName: "127.0.0.1",
      ipAddresses: ["127.0.0.1"],
      usage: "server",
    });

    beforeAll(async () => {
      server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
        let body = "";
        req.on("data", (c: Buffer) => {
          body += c.toString();
        });
        req.on("end", () => {
          const review = JSON.parse(body) as {
            request: { uid: string; name?: string; object: V1Pod };
          };
          seen.push(review.request.object.metadata?.name ?? "");
          const patch = [
            {
              op: "add",
              path: "/metadata/annotations",
              value: { "smoke.auditready.dev/mutated": "true" },
            },
          ];
          res.setHeader("content-type", "application/json");
          res.end(
            JSON.stringify({
              apiVersion: "admission.k8s.io/v1",
              kind: "AdmissionReview",
              response: {
                uid: review.request.uid,
                allowed: true,
                patchType: "JSONPatch",
                patch: Buffer.from(JSON.stringify(patch)).toString("base64"),
              },
            }),
          );
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const port = (server.address() as AddressInfo).port;
      await createNamespace(namespace, { "smoke.auditready.dev/run": run });
      await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
        body: {
          metadata: { name: `smoke-${run}` },
          webhooks: [
            {
              name: "smoke.auditready.dev",
              admissionReviewVersions: ["v1"],
              sideEffects: "None",
              failurePolicy: "Fail",
              timeoutSeconds: 5,
              namespaceSelector: { matchLabels: { "smoke.auditready.dev/run": run } },
              rules: [
                {
                  apiGroups: [""],
                  apiVersions: ["v1"],
                  operations: ["CREATE"],
                  resources: ["pods"],
                },
              ],
              clientConfig: {
                url: `https://127.0.0.1:${port}/mutate`,
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
        .deleteMutatingWebhookConfiguration({ name: `smoke-${run}` });
      server.close();
    });

    const pod = (name: string): V1Pod => ({
      metadata: { name },
      spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }] },
    });

    it("stores the Pod as the webhook patched it", async () => {
      // Registration takes effect asynchronously: probe until a created pod comes back mutated.
      let probe = 0;
      await until("webhook registration in effect", async () => {
        const created = await core.createNamespacedPod({
          namespace,
          body: pod(`probe-${probe++}`),
        });
        return (
          created.metadata?.annotations?.["smoke.auditready.dev/mutated"] === "true" || undefined
        );
      });
      await core.createNamespacedPod({ namespace, body: pod("app") });
      const stored = await core.readNamespacedPod({ namespace, name: "app" });
      expect(stored.metadata?.annotations).toEqual({ "smoke.auditready.dev/mutated": "true" });
      expect(seen).toContain("app");
    });
  });

  it("answers kubectl (built at the same version) and helm runs", () => {
    const readyz = execFileSync(endpoint("kubectl"), [
      "--kubeconfig",
      endpoint("kubeconfig"),
      "get",
      "--raw",
      "/readyz",
    ]);
    expect(readyz.toString().trim()).toBe("ok");
    const helm = execFileSync(endpoint("helm"), ["version", "--short"]).toString();
    expect(helm).toMatch(/^v4\.\d+\.\d+/);
  });
});
