// No way around the injection webhook, on the real API server: under Enforce a pod that claims
// injection without carrying it (a forged annotation, a hand-written or edited sidecar) is
// refused with the difference in the API server's error, while a pod injected normally (and a
// copy of it, as the API server stored it) is admitted; the injected pod holds the sidecar's
// pod-bound token and no policy key. Under Audit such a pod is admitted but not counted as
// injected: the policy's status lists it as SidecarMismatch.
import { CoreV1Api, CustomObjectsApi, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePolicy } from "../../operator/api/parse.ts";
import type { AuditPolicyStatus } from "../../operator/api/policy.ts";
import { SIDECAR_CONTAINER, TOKEN_DIR, TOKEN_VOLUME } from "../../operator/names.ts";
import { checkInjectedPod } from "../../operator/sidecar-match.ts";
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
const namespace = `forgery-${run}`;
let deployment: Deployment;

const spec = (app: string, enforcement: "Audit" | "Enforce") =>
  minimalSpec(app, `it.forgery.${run}.${app}`, {
    source: { paths: ["/var/log/app/access*.log"], format: "json" },
    containers: ["api"],
    enforcement,
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

async function refusal(body: V1Pod): Promise<string> {
  try {
    await core.createNamespacedPod({ namespace, body });
  } catch (err) {
    return (JSON.parse(String((err as { body?: string }).body)) as { message: string }).message;
  }
  throw new Error("the pod was admitted");
}

/** A new pod from a stored one: its labels, annotations and spec, as a user could copy them. */
const copyOf = (stored: V1Pod, name: string): V1Pod => ({
  metadata: {
    name,
    labels: stored.metadata?.labels ?? {},
    annotations: stored.metadata?.annotations ?? {},
  },
  spec: structuredClone(stored.spec ?? { containers: [] }),
});

const sidecarIn = (pod: V1Pod) =>
  pod.spec?.initContainers?.find((c) => c.name === SIDECAR_CONTAINER);

const STRICT =
  "AuditPolicy %ns%/strict (Enforce) refuses the pod: its sidecar differs from what auditready-operator injects for policy strict@1: ";

describe("no way around the injection webhook", () => {
  let stored: V1Pod;
  beforeAll(async () => {
    await installCrd(kc);
    deployment = await deployOperator(kc, run);
    await deployment.start("forgery-a");
    await createNamespace(kc, namespace);
    for (const [name, s] of [
      ["strict", spec("strict", "Enforce")],
      ["loose", spec("loose", "Audit")],
    ] as const) {
      await objects.createNamespacedCustomObject({
        ...policyRef(namespace),
        body: policyBody(name, s, run),
      });
    }
    await injectionInEffect("strict");
    await injectionInEffect("loose");
    await core.createNamespacedPod({ namespace, body: podBody("app-1", { app: "strict" }) });
    stored = await core.readNamespacedPod({ namespace, name: "app-1" });
  });
  afterAll(async () => {
    await deployment?.cleanup();
  });

  it("injects a normal pod with the sidecar's token volume, mounted in the sidecar only, and no policy key", async () => {
    const token = stored.spec?.volumes?.find((v) => v.name === TOKEN_VOLUME);
    expect(token?.projected?.sources).toEqual([
      { serviceAccountToken: { audience: "auditready", expirationSeconds: 600, path: "token" } },
    ]);
    expect(sidecarIn(stored)?.volumeMounts).toContainEqual({
      name: TOKEN_VOLUME,
      mountPath: TOKEN_DIR,
      readOnly: true,
    });
    expect(
      stored.spec?.containers.filter((c) => c.volumeMounts?.some((m) => m.name === TOKEN_VOLUME)),
    ).toEqual([]);
    const sources = stored.spec?.volumes?.flatMap((v) => v.projected?.sources ?? []) ?? [];
    expect(sources.filter((s) => s.secret !== undefined)).toEqual([]);
    expect(JSON.stringify(stored.spec)).not.toContain("policy.key");
  });

  it("sees the pod as the API server stored it (defaults filled in) as exactly what it injects", async () => {
    const raw = await objects.getNamespacedCustomObject({
      ...policyRef(namespace),
      name: "strict",
    });
    const parsed = parsePolicy(raw);
    if (!parsed.ok) throw new Error(parsed.error.message);
    expect(checkInjectedPod(stored, parsed.policy, { cluster: "it-cluster" })).toEqual({
      ok: true,
    });
  });

  it("admits a copy of the stored injected pod unchanged", async () => {
    const created = await core.createNamespacedPod({ namespace, body: copyOf(stored, "copy-1") });
    expect(created.spec?.initContainers?.filter((c) => c.name === SIDECAR_CONTAINER)).toHaveLength(
      1,
    );
  });

  it("refuses a forged injection annotation on a pod without the sidecar", async () => {
    const message = await refusal(
      podBody(
        "forged",
        { app: "strict" },
        {
          metadata: {
            name: "forged",
            annotations: {
              "auditready.dev/injected": "strict@1",
              "auditready.dev/injected-shape":
                stored.metadata?.annotations?.["auditready.dev/injected-shape"] ?? "",
            },
          },
        },
      ),
    );
    expect(message).toContain(
      `${STRICT.replace("%ns%", namespace)}the pod has no auditready-sidecar container`,
    );
  });

  it("refuses a hand-written auditready-sidecar container", async () => {
    const message = await refusal(
      podBody(
        "handmade",
        { app: "strict" },
        {
          spec: {
            containers: [
              { name: "api", image: "registry.invalid/app:1" },
              { name: SIDECAR_CONTAINER, image: "registry.invalid/evil:1" },
            ],
          },
        },
      ),
    );
    expect(message).toContain(
      `${STRICT.replace("%ns%", namespace)}the pod has a container named auditready-sidecar but no auditready.dev/injected annotation`,
    );
  });

  it("refuses a copy of an injected pod whose sidecar image was changed", async () => {
    const copy = copyOf(stored, "evil-copy");
    const sidecar = sidecarIn(copy);
    if (sidecar) sidecar.image = "registry.invalid/evil:1";
    const message = await refusal(copy);
    expect(message).toContain(
      `${STRICT.replace("%ns%", namespace)}image is "registry.invalid/evil:1", expected "auditready:0.1.0"`,
    );
  });

  it("refuses a copy whose token volume asks for another audience", async () => {
    const copy = copyOf(stored, "audience-copy");
    const sat = copy.spec?.volumes?.find((v) => v.name === TOKEN_VOLUME)?.projected?.sources?.[0]
      ?.serviceAccountToken;
    if (sat) sat.audience = "evil";
    expect(await refusal(copy)).toContain(
      'volume auditready-token: projected.sources[0].serviceAccountToken.audience is "evil", expected "auditready"',
    );
  });

  it("under Audit admits a pod with a hand-written sidecar and a forged annotation, and reports it as SidecarMismatch", async () => {
    const loose = await core.readNamespacedPod({
      namespace,
      name:
        (await core.listNamespacedPod({ namespace, labelSelector: "app=loose" })).items[0]?.metadata
          ?.name ?? "",
    });
    const forged = copyOf(loose, "loose-forged");
    const sidecar = sidecarIn(forged);
    if (sidecar) sidecar.env = [...(sidecar.env ?? []), { name: "EXTRA", value: "1" }];
    const created = await core.createNamespacedPod({ namespace, body: forged });
    expect(created.metadata?.name).toBe("loose-forged");
    const uncovered = await until("SidecarMismatch reported", async () => {
      const p = (await objects.getNamespacedCustomObject({
        ...policyRef(namespace),
        name: "loose",
      })) as { status?: AuditPolicyStatus };
      return p.status?.uncovered?.find((u) => u.pod === "loose-forged");
    });
    expect(uncovered).toEqual({
      pod: "loose-forged",
      reason: "SidecarMismatch",
      message:
        'sidecar differs from what auditready-operator injects for policy loose@1: env[7] is {"name":"EXTRA","value":"1"}, expected nothing',
    });
  });
});
