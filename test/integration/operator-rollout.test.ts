// spec.rollout on the real API server: a Deployment's pod created before the policy is listed
// as CreatedBeforePolicy, and with rollout.restart the operator restarts the Deployment (the
// pod template annotation `kubectl rollout restart` uses), once per policy generation, under
// the optional rollout RBAC.
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
const apps = kc.makeApiClient(AppsV1Api);
const run = runId();
const namespace = `rollout-${run}`;
let deployment: Deployment;

const template = {
  metadata: { labels: { app: "web" } },
  spec: { containers: [{ name: "api", image: "registry.invalid/app:1" }] },
};

describe("spec.rollout restarts the owners of uncovered pods", () => {
  beforeAll(async () => {
    await installCrd(kc);
    deployment = await deployOperator(kc, run, { rollout: true });
    await deployment.start("rollout-a");
    await createNamespace(kc, namespace);
    // What a Deployment controller would have made before the policy existed.
    const d = await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: "web" },
        spec: { selector: { matchLabels: { app: "web" } }, template },
      },
    });
    const rs = await apps.createNamespacedReplicaSet({
      namespace,
      body: {
        metadata: {
          name: "web-5d8f",
          labels: { app: "web" },
          ownerReferences: [
            {
              apiVersion: "apps/v1",
              kind: "Deployment",
              name: "web",
              uid: d.metadata?.uid ?? "",
              controller: true,
            },
          ],
        },
        spec: { selector: { matchLabels: { app: "web" } }, template },
      },
    });
    await core.createNamespacedPod({
      namespace,
      body: podBody(
        "web-5d8f-x1",
        { app: "web" },
        {
          metadata: {
            name: "web-5d8f-x1",
            ownerReferences: [
              {
                apiVersion: "apps/v1",
                kind: "ReplicaSet",
                name: "web-5d8f",
                uid: rs.metadata?.uid ?? "",
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
        "p",
        minimalSpec("web", `it.rollout.${run}`, { rollout: { restart: ["CreatedBeforePolicy"] } }),
        run,
      ),
    });
  });
  afterAll(async () => {
    await deployment?.cleanup();
  });

  it("annotates the Deployment's pod template once for this generation, and records an Event", async () => {
    const annotations = await until("deployment restarted", async () => {
      const d = await apps.readNamespacedDeployment({ namespace, name: "web" });
      const a = d.spec?.template.metadata?.annotations;
      return a?.["auditready.dev/restarted-for"] === "p@1" ? a : undefined;
    });
    expect(annotations["auditready.dev/restartedAt"]).toMatch(/^\d{4}-\d\d-\d\dT/);
    const events = await until("event", async () => {
      const list = await core.listNamespacedEvent({
        namespace,
        fieldSelector: "involvedObject.name=p",
      });
      const e = list.items.find((x) => x.reason === "RolloutRestarted");
      return e ?? undefined;
    });
    expect(events.message).toBe(
      "restarted Deployment web so its pods are injected with generation 1",
    );

    // More reconciles (a pod change) do not restart it again for the same generation.
    await core.createNamespacedPod({ namespace, body: podBody("web-other", { app: "web" }) });
    await new Promise((r) => setTimeout(r, 1_000));
    const again = await apps.readNamespacedDeployment({ namespace, name: "web" });
    expect(again.spec?.template.metadata?.annotations?.["auditready.dev/restartedAt"]).toBe(
      annotations["auditready.dev/restartedAt"],
    );
  });
});
