// What an operator outage does, on the real API server: pods an Enforce policy selects are
// refused (fail closed), pods an Audit policy selects are admitted without the sidecar (fail
// open) and, once an operator runs again, listed as NotInjected; every other pod is admitted.
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
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
  until,
} from "./operator-support.ts";

const kc = adminConfig();
const core = kc.makeApiClient(CoreV1Api);
const run = runId();
const namespace = `outage-${run}`;
let deployment: Deployment;

const spec = (app: string, enforcement: string) =>
  minimalSpec(app, `it.outage.${run}`, { enforcement });

describe("an operator outage", () => {
  beforeAll(async () => {
    await installCrd(kc);
    deployment = await deployOperator(kc, run);
    const first = await deployment.start("outage-a");
    await createNamespace(kc, namespace);
    const objects = kc.makeApiClient(CustomObjectsApi);
    await objects.createNamespacedCustomObject({
      ...policyRef(namespace),
      body: policyBody("audit", spec("a", "Audit"), run),
    });
    await objects.createNamespacedCustomObject({
      ...policyRef(namespace),
      body: policyBody("enforce", spec("e", "Enforce"), run),
    });
    for (const app of ["a", "e"]) {
      let n = 0;
      await until(`webhook for ${app}`, async () => {
        const name = `probe-${app}-${n++}`;
        const p = await core.createNamespacedPod({ namespace, body: podBody(name, { app }) });
        await core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 });
        return p.metadata?.annotations?.["auditready.dev/injected"] ? true : undefined;
      });
    }
    await first.stop();
  });
  afterAll(async () => {
    await deployment?.cleanup();
  });

  it("refuses pods an Enforce policy selects: the webhook fails closed for them only", async () => {
    const err = await core
      .createNamespacedPod({ namespace, body: podBody("e-1", { app: "e" }) })
      .then(
        () => undefined,
        (e: unknown) => e as { code?: number; body?: string },
      );
    expect(err?.code).toBe(500);
    expect(String(err?.body)).toMatch(/failed calling webhook/);
  });

  it("admits pods no policy selects", async () => {
    const p = await core.createNamespacedPod({
      namespace,
      body: podBody("other-1", { app: "other" }),
    });
    expect(p.metadata?.name).toBe("other-1");
  });

  it("admits pods an Audit policy selects without the sidecar, and reports them as NotInjected once an operator is back", async () => {
    const p = await core.createNamespacedPod({ namespace, body: podBody("a-1", { app: "a" }) });
    expect(p.spec?.initContainers).toBeUndefined();
    await deployment.start("outage-b");
    const status = await until("NotInjected on the status", async () => {
      const s = (await readPolicy(kc, namespace, "audit")).status as AuditPolicyStatus | undefined;
      return s?.uncovered?.some((u) => u.pod === "a-1") ? s : undefined;
    });
    expect(status.uncovered).toContainEqual(
      expect.objectContaining({ pod: "a-1", reason: "NotInjected" }),
    );
    expect(status.coverage).toBe("0/1");
  });
});
