// The operator runs as a ServiceAccount bound only to the RBAC it ships (operator/rbac.ts):
// with it, a policy reconciles to Ready; outside it, the API server refuses.
import {
  AdmissionregistrationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditPolicyStatus } from "../../operator/api/policy.ts";
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
  readPolicy,
  runId,
  setSidecarReady,
  until,
} from "./operator-support.ts";

const kc = adminConfig();
const run = runId();
const namespace = `rbac-op-${run}`;
let deployment: Deployment;

describe("the operator under its shipped least-privilege RBAC", () => {
  beforeAll(async () => {
    await installCrd(kc);
    deployment = await deployOperator(kc, run);
    await deployment.start("rbac-a");
    await createNamespace(kc, namespace);
  });
  afterAll(async () => {
    await deployment?.cleanup();
  });

  it("reconciles a policy to Ready: key, topic, webhook, status and injection all work", async () => {
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      ...policyRef(namespace),
      body: policyBody(
        "p",
        minimalSpec("p", `it.rbac.${run}`, {
          source: { paths: ["/logs/access.log"], format: "combined" },
          enforcement: "Enforce",
        }),
        run,
      ),
    });
    const core = kc.makeApiClient(CoreV1Api);
    let n = 0;
    const pod = await until("injected", async () => {
      const name = `p-${n++}`;
      const created = await core.createNamespacedPod({
        namespace,
        body: podBody(name, { app: "p" }),
      });
      return created.metadata?.annotations?.["auditready.dev/injected"] ? created : undefined;
    });
    await setSidecarReady(kc, namespace, pod.metadata?.name ?? "", true);
    for (let i = 0; i < n - 1; i++) {
      await core.deleteNamespacedPod({ namespace, name: `p-${i}`, gracePeriodSeconds: 0 });
    }
    const status = await until("Ready", async () => {
      const s = (await readPolicy(kc, namespace, "p")).status as AuditPolicyStatus | undefined;
      return s?.conditions?.find((c) => c.type === "Ready")?.status === "True" ? s : undefined;
    });
    expect(status.conditions?.map((c) => `${c.type}=${c.status}`)).toEqual([
      "Ready=True",
      "KeyReady=True",
      "TopicReady=True",
      "WebhookReady=True",
    ]);
    expect(status.coverage).toBe("1/1");
  });

  describe("is refused anything outside it", () => {
    const as = () => deployment.saConfig;
    const forbidden = async (what: string, call: () => Promise<unknown>) => {
      await expect(call(), what).rejects.toMatchObject({ code: 403 });
    };

    it("cannot list or delete Secrets, nor write pods", async () => {
      const core = as().makeApiClient(CoreV1Api);
      await forbidden("list secrets", () => core.listNamespacedSecret({ namespace }));
      await forbidden("delete the key secret", () =>
        core.deleteNamespacedSecret({ namespace, name: "auditready-p-key" }),
      );
      await forbidden("create a pod", () =>
        core.createNamespacedPod({ namespace, body: podBody("x", {}) }),
      );
      await forbidden("delete a pod", () => core.deleteNamespacedPod({ namespace, name: "p-0" }));
      await forbidden("read namespaces", () => core.listNamespace());
    });

    it("cannot change policy specs, only their status", async () => {
      await forbidden("patch a policy spec", () =>
        as()
          .makeApiClient(CustomObjectsApi)
          .patchNamespacedCustomObject(
            { ...policyRef(namespace), name: "p", body: { spec: { enforcement: "Audit" } } },
            setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
          ),
      );
    });

    it("cannot touch another MutatingWebhookConfiguration, create one, or change RBAC", async () => {
      const admission = as().makeApiClient(AdmissionregistrationV1Api);
      await forbidden("read another webhook configuration", () =>
        admission.readMutatingWebhookConfiguration({ name: `other-${run}` }),
      );
      await forbidden("create a webhook configuration", () =>
        admission.createMutatingWebhookConfiguration({
          body: { metadata: { name: `mine-${run}` } },
        }),
      );
      await forbidden("widen its own ClusterRole", () =>
        as()
          .makeApiClient(RbacAuthorizationV1Api)
          .patchClusterRole(
            {
              name: deployment.names.name,
              body: { rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }] },
            },
            setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
          ),
      );
    });

    it("cannot restart workloads without the optional rollout role, and says so in an Event", async () => {
      const core = kc.makeApiClient(CoreV1Api);
      await core.createNamespacedPod({
        namespace,
        body: podBody(
          "db-0",
          { app: "db" },
          {
            metadata: {
              name: "db-0",
              ownerReferences: [
                {
                  apiVersion: "apps/v1",
                  kind: "StatefulSet",
                  name: "db",
                  uid: "0c5e0000-0000-4000-8000-000000000001",
                  controller: true,
                },
              ],
            },
          },
        ),
      });
      await new Promise((r) => setTimeout(r, 1_100));
      await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
        ...policyRef(namespace),
        body: policyBody(
          "roll",
          minimalSpec("db", `it.rbac.${run}`, { rollout: { restart: ["CreatedBeforePolicy"] } }),
          run,
        ),
      });
      const event = await until("RolloutFailed event", async () => {
        const list = await core.listNamespacedEvent({
          namespace,
          fieldSelector: "involvedObject.name=roll",
        });
        return list.items.find((e) => e.reason === "RolloutFailed");
      });
      expect(event.type).toBe("Warning");
      expect(event.message).toMatch(/^could not restart StatefulSet\/db: .*403/s);
    });

    it("cannot read other Leases than its own", async () => {
      await forbidden("read another lease", () =>
        as()
          .makeApiClient(CoordinationV1Api)
          .readNamespacedLease({ namespace: deployment.namespace, name: "someone-else" }),
      );
    });
  });
});
