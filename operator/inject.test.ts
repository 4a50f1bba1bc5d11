// Golden tests for the pod mutation: each case's patch is compared with
// test/fixtures/operator/inject/<case>.json (UPDATE_GOLDEN=1 rewrites them after a deliberate
// change; review the diff, then `npm run format`). The patched pod is then checked for the
// properties that matter.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { applyPatch as apply } from "../test/unit/apply-patch.ts";
import type { AuditPolicySpecInput, Policy } from "./api/policy.ts";
import { AuditPolicySpec } from "./api/policy.ts";
import { injectionPatch, type JsonPatch } from "./inject.ts";
import {
  CERTIFY_CA_KEY,
  INJECTED_ANNOTATION,
  SIDECAR_CONTAINER,
  TOKEN_AUDIENCE,
  TOKEN_DIR,
  TOKEN_EXPIRY_SECONDS,
  TOKEN_VOLUME,
} from "./names.ts";

const GOLDEN = new URL("../test/fixtures/operator/inject/", import.meta.url);
const ctx = { cluster: "prod-eu-1" };

function policy(over: Partial<AuditPolicySpecInput> = {}, generation = 3): Policy {
  return {
    name: "payments-api",
    namespace: "payments",
    uid: "uid-1",
    generation,
    creationTimestamp: "2026-01-01T00:00:00Z",
    spec: AuditPolicySpec.parse({
      selector: { matchLabels: { app: "payments-api" } },
      source: { paths: ["/var/log/app/access*.log"], format: "json" },
      sink: { kafka: { brokers: ["kafka:9093"], topic: "audit.payments" } },
      ...over,
    }),
  };
}

const plainPod = (): V1Pod => ({
  metadata: { name: "p", labels: { app: "payments-api" } },
  spec: { containers: [{ name: "api", image: "app:1" }] },
});

const busyPod = (): V1Pod => ({
  metadata: { name: "p", labels: { app: "payments-api" }, annotations: { team: "payments" } },
  spec: {
    initContainers: [{ name: "migrate", image: "app:1" }],
    containers: [
      { name: "api", image: "app:1", volumeMounts: [{ name: "data", mountPath: "/data" }] },
      { name: "metrics", image: "exporter:1" },
    ],
    volumes: [{ name: "data", emptyDir: {} }],
  },
});

function golden(name: string, patch: JsonPatch[]) {
  const file = new URL(`${name}.json`, GOLDEN);
  const text = `${JSON.stringify(patch, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN || !existsSync(file)) writeFileSync(file, text);
  // Compared as JSON, not text: the repository formatter may lay the file out differently.
  expect(patch).toEqual(JSON.parse(readFileSync(file, "utf8")));
}

function patchOf(pod: V1Pod, p: Policy): JsonPatch[] {
  const r = injectionPatch(pod, p, ctx);
  if (!r.ok) throw new Error(r.error.message);
  return r.patch;
}

describe("injectionPatch", () => {
  it("adds a native sidecar, the shared log volume, config and token to a bare pod (golden)", () => {
    const patch = patchOf(plainPod(), policy());
    golden("plain-native", patch);
    const pod = apply(plainPod(), patch);
    const sidecar = pod.spec?.initContainers?.[0];
    expect(sidecar?.name).toBe(SIDECAR_CONTAINER);
    expect(sidecar?.restartPolicy).toBe("Always");
    expect(pod.metadata?.annotations?.[INJECTED_ANNOTATION]).toBe("payments-api@3");
    expect(pod.spec?.containers[0]?.volumeMounts).toEqual([
      { name: "auditready-logs-0", mountPath: "/var/log/app", subPath: "api" },
    ]);
    expect(sidecar?.volumeMounts?.find((m) => m.name === "auditready-logs-0")?.mountPath).toBe(
      "/var/log/app",
    );
  });

  it("hardens the sidecar: non-root, read-only root fs, no escalation, all capabilities dropped", () => {
    const pod = apply(plainPod(), patchOf(plainPod(), policy()));
    expect(pod.spec?.initContainers?.[0]?.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ["ALL"] },
    });
  });

  it("makes the log readable to the sidecar through the pod's fsGroup: its own kept, else the sidecar's gid", () => {
    const bare = apply(plainPod(), patchOf(plainPod(), policy()));
    expect(bare.spec?.securityContext).toEqual({
      fsGroup: 65532,
      fsGroupChangePolicy: "OnRootMismatch",
    });
    const own = plainPod();
    own.spec = {
      ...own.spec,
      containers: own.spec?.containers ?? [],
      securityContext: { fsGroup: 2000, runAsUser: 1000 },
    };
    expect(apply(own, patchOf(own, policy())).spec?.securityContext).toEqual({
      fsGroup: 2000,
      runAsUser: 1000,
    });
    const some = plainPod();
    some.spec = {
      ...some.spec,
      containers: some.spec?.containers ?? [],
      securityContext: { runAsUser: 1000 },
    };
    expect(apply(some, patchOf(some, policy())).spec?.securityContext).toEqual({
      runAsUser: 1000,
      fsGroup: 65532,
      fsGroupChangePolicy: "OnRootMismatch",
    });
  });

  it("runs the image's own entrypoint with the sidecar command", () => {
    const sidecar = apply(plainPod(), patchOf(plainPod(), policy())).spec?.initContainers?.[0];
    expect(sidecar?.command).toBeUndefined();
    expect(sidecar?.args).toEqual(["sidecar"]);
  });

  it("passes pod identity through the downward API and the cluster name as a value", () => {
    const pod = apply(plainPod(), patchOf(plainPod(), policy()));
    const env = Object.fromEntries(
      (pod.spec?.initContainers?.[0]?.env ?? []).map((e) => [
        e.name,
        e.value ?? e.valueFrom?.fieldRef?.fieldPath,
      ]),
    );
    expect(env).toEqual({
      AUDITREADY_CLUSTER: "prod-eu-1",
      AUDITREADY_CONFIG: "/etc/auditready/config.yaml",
      POD_NAME: "metadata.name",
      POD_NAMESPACE: "metadata.namespace",
      POD_UID: "metadata.uid",
      NODE_NAME: "spec.nodeName",
      POD_SERVICE_ACCOUNT: "spec.serviceAccountName",
    });
  });

  it("appends to existing annotations, init containers, volumes and mounts, only in selected containers (golden)", () => {
    const p = policy({
      containers: ["api"],
      source: { paths: ["/var/log/app/a.log", "/srv/logs/*.log"], format: "json" },
    });
    const patch = patchOf(busyPod(), p);
    golden("busy-selected-container", patch);
    const pod = apply(busyPod(), patch);
    expect(pod.metadata?.annotations?.team).toBe("payments");
    expect(pod.spec?.initContainers?.map((c) => c.name)).toEqual(["migrate", SIDECAR_CONTAINER]);
    expect(pod.spec?.containers[0]?.volumeMounts?.map((m) => m.mountPath)).toEqual([
      "/data",
      "/srv/logs",
      "/var/log/app",
    ]);
    expect(pod.spec?.containers[1]?.volumeMounts).toBeUndefined();
    expect(pod.spec?.volumes?.map((v) => v.name)).toEqual([
      "data",
      "auditready-logs-0",
      "auditready-logs-1",
      "auditready-config",
      "auditready-token",
      "auditready-tmp",
    ]);
  });

  it("falls back to a regular container when native sidecars are off, and mounts Kafka TLS/SASL (golden)", () => {
    const p = policy({
      sidecar: { native: false, resources: { limits: { cpu: "500m" } } },
      sink: {
        kafka: {
          brokers: ["k:9093"],
          topic: "t",
          tlsSecret: "kafka-tls",
          saslSecret: "kafka-sasl",
        },
      },
    });
    const patch = patchOf(plainPod(), p);
    golden("fallback-tls-sasl", patch);
    const pod = apply(plainPod(), patch);
    expect(pod.spec?.initContainers).toBeUndefined();
    const sidecar = pod.spec?.containers[1];
    expect(sidecar?.name).toBe(SIDECAR_CONTAINER);
    expect(sidecar?.restartPolicy).toBeUndefined();
    expect(sidecar?.resources?.limits).toEqual({ memory: "256Mi", cpu: "500m" });
  });

  it("is idempotent: a patched pod, re-invoked, gets an empty patch", () => {
    const p = policy();
    const once = apply(plainPod(), patchOf(plainPod(), p));
    expect(patchOf(once, p)).toEqual([]);
    expect(patchOf(once, policy({}, 4))).toEqual([]);
  });

  it("refuses, with a reason, a pod missing a named container", () => {
    expect(injectionPatch(plainPod(), policy({ containers: ["web"] }), ctx)).toEqual({
      ok: false,
      error: { kind: "ContainerNotFound", message: "the pod has no container named web" },
    });
  });

  it("refuses a pod that already mounts something at the log directory", () => {
    const pod = plainPod();
    if (pod.spec?.containers[0])
      pod.spec.containers[0].volumeMounts = [{ name: "x", mountPath: "/var/log/app" }];
    const r = injectionPatch(pod, policy(), ctx);
    expect(r.ok ? "" : r.error.kind).toBe("MountConflict");
  });

  it("refuses a pod that has a container named like the sidecar but no injection record", () => {
    const pod = plainPod();
    pod.spec?.containers.push({ name: SIDECAR_CONTAINER, image: "x" });
    const r = injectionPatch(pod, policy(), ctx);
    expect(r.ok ? "" : r.error.kind).toBe("SidecarMismatch");
  });

  it("mounts no policy key anywhere: the config volume holds the config and the certify CA only", () => {
    const pod = apply(plainPod(), patchOf(plainPod(), policy()));
    expect(JSON.stringify(pod)).not.toMatch(/policy\.key|-key"/);
    const config = pod.spec?.volumes?.find((v) => v.name === "auditready-config");
    expect(config?.projected?.sources).toEqual([
      {
        configMap: {
          name: "auditready-payments-api-config",
          items: [
            { key: "config.yaml", path: "config.yaml" },
            { key: CERTIFY_CA_KEY, path: CERTIFY_CA_KEY },
          ],
        },
      },
    ]);
  });

  it("gives the sidecar, and only the sidecar, a pod-bound token for the auditready audience", () => {
    const pod = apply(busyPod(), patchOf(busyPod(), policy()));
    const token = pod.spec?.volumes?.find((v) => v.name === TOKEN_VOLUME);
    expect(token?.projected?.sources).toEqual([
      {
        serviceAccountToken: {
          audience: TOKEN_AUDIENCE,
          expirationSeconds: TOKEN_EXPIRY_SECONDS,
          path: "token",
        },
      },
    ]);
    const mounting = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]
      .filter((c) => c.volumeMounts?.some((m) => m.name === TOKEN_VOLUME))
      .map((c) => [c.name, c.volumeMounts?.find((m) => m.name === TOKEN_VOLUME)]);
    expect(mounting).toEqual([
      [SIDECAR_CONTAINER, { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true }],
    ]);
  });

  it("names the default ServiceAccount when the pod names none (a projected token needs one), and keeps a pod's own", () => {
    expect(apply(plainPod(), patchOf(plainPod(), policy())).spec?.serviceAccountName).toBe(
      "default",
    );
    const own = plainPod();
    if (own.spec) own.spec.serviceAccountName = "payments";
    const patch = patchOf(own, policy());
    expect(patch.some((op) => op.path === "/spec/serviceAccountName")).toBe(false);
    expect(apply(own, patch).spec?.serviceAccountName).toBe("payments");
  });

  it("leaves the pod's automountServiceAccountToken as it is (the projected token needs none)", () => {
    const off = plainPod();
    if (off.spec) off.spec.automountServiceAccountToken = false;
    const patch = patchOf(off, policy());
    expect(patch.some((op) => op.path.includes("automountServiceAccountToken"))).toBe(false);
    expect(apply(off, patch).spec?.automountServiceAccountToken).toBe(false);
  });

  it("refuses a pod whose own volume asks for a token for the auditready audience", () => {
    const pod = plainPod();
    if (pod.spec)
      pod.spec.volumes = [
        {
          name: "mine",
          projected: { sources: [{ serviceAccountToken: { audience: "auditready", path: "t" } }] },
        },
      ];
    const r = injectionPatch(pod, policy(), ctx);
    expect(r.ok ? "" : r.error.kind).toBe("AudienceConflict");
  });

  it("refuses a pod that shares one process namespace: the sidecar's key stays in its own", () => {
    const pod = plainPod();
    if (pod.spec) pod.spec.shareProcessNamespace = true;
    const r = injectionPatch(pod, policy(), ctx);
    expect(r.ok ? "" : r.error).toEqual({
      kind: "SharedProcessNamespace",
      message:
        "the pod sets shareProcessNamespace: the sidecar's in-memory signing key would be visible to the app's containers",
    });
  });
});
