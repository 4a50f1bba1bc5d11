// The pod mutation, as a pure function: injectionPatch(pod, policy) -> RFC 6902 JSON patch.
// JSON patch only (never a re-serialized pod), so fields this code does not know, such as a
// native sidecar's restartPolicy added by another webhook, survive. Idempotent: a pod already
// carrying the injection annotation gets an empty patch, so reinvocationPolicy IfNeeded and
// repeated calls are safe. Nothing here reads the API: the webhook calls it on its hot path.
import { createHash } from "node:crypto";
import type {
  V1Container,
  V1EnvVar,
  V1Pod,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import type { Policy } from "./api/policy.ts";
import { type LogDir, logDirs } from "./logdirs.ts";
import {
  CONFIG_DIR,
  CONFIG_FILE,
  configMapName,
  INJECTED_ANNOTATION,
  injectedValue,
  KAFKA_SASL_DIR,
  KAFKA_TLS_DIR,
  KEY_FILE,
  keySecretName,
  SHAPE_ANNOTATION,
  SIDECAR_CONTAINER,
  SIDECAR_PORT,
} from "./names.ts";

export type JsonPatch =
  | { op: "add"; path: string; value: unknown }
  | { op: "replace"; path: string; value: unknown };

export interface InjectionError {
  kind: "ContainerNotFound" | "MountConflict" | "NameConflict";
  message: string;
}

export interface InjectionContext {
  /** The cluster name the sidecar stamps on records (the operator's own config). */
  cluster: string;
  /**
   * Whether the API server supports native sidecars (Kubernetes >= 1.29). When it does not, the
   * sidecar is added as a regular container whatever spec.sidecar.native says.
   */
  nativeSidecars?: boolean;
}

export function useNativeSidecar(policy: Policy, ctx: InjectionContext): boolean {
  return policy.spec.sidecar.native && ctx.nativeSidecars !== false;
}

export type InjectionResult =
  | { ok: true; patch: JsonPatch[] }
  | { ok: false; error: InjectionError };

const CONFIG_VOLUME = "auditready-config";
const TMP_VOLUME = "auditready-tmp";
const TLS_VOLUME = "auditready-kafka-tls";
const SASL_VOLUME = "auditready-kafka-sasl";
const NON_ROOT_UID = 65532;

const pointerToken = (key: string) => key.replaceAll("~", "~0").replaceAll("/", "~1");

export function injectionPatch(pod: V1Pod, policy: Policy, ctx: InjectionContext): InjectionResult {
  const annotations = pod.metadata?.annotations;
  if (annotations?.[INJECTED_ANNOTATION] !== undefined) return { ok: true, patch: [] };
  const spec = pod.spec;
  const containers = spec?.containers ?? [];
  const dirs = logDirs(policy.spec);

  const selected = policy.spec.containers ?? containers.map((c) => c.name);
  const missing = selected.filter((n) => !containers.some((c) => c.name === n));
  if (missing.length > 0) {
    return fail("ContainerNotFound", `the pod has no container named ${missing.join(", ")}`);
  }
  const all = [...containers, ...(spec?.initContainers ?? [])];
  if (all.some((c) => c.name === SIDECAR_CONTAINER)) {
    return fail("NameConflict", `the pod already has a container named ${SIDECAR_CONTAINER}`);
  }
  const ours = new Set(volumes(policy, dirs).map((v) => v.name));
  const taken = (spec?.volumes ?? []).filter((v) => ours.has(v.name)).map((v) => v.name);
  if (taken.length > 0) {
    return fail("NameConflict", `the pod already has a volume named ${taken.join(", ")}`);
  }
  for (const name of selected) {
    const c = containers.find((x) => x.name === name);
    const clash = c?.volumeMounts?.find((m) => dirs.some((d) => d.dir === m.mountPath));
    if (clash) {
      return fail(
        "MountConflict",
        `container ${name} already mounts ${clash.name} at ${clash.mountPath}, where the shared log volume goes`,
      );
    }
  }

  const patch: JsonPatch[] = [];
  const records = {
    [INJECTED_ANNOTATION]: injectedValue(policy.name, policy.generation),
    [SHAPE_ANNOTATION]: podShape(policy),
  };
  if (annotations === undefined) {
    patch.push({ op: "add", path: "/metadata/annotations", value: records });
  } else {
    for (const [key, value] of Object.entries(records)) {
      patch.push({ op: "add", path: `/metadata/annotations/${pointerToken(key)}`, value });
    }
  }
  appendAll(patch, "/spec/volumes", spec?.volumes, volumes(policy, dirs));
  patch.push(...logGroupPatch(pod));
  containers.forEach((c, i) => {
    if (!selected.includes(c.name)) return;
    const mounts = dirs.map((d) => ({ name: d.volume, mountPath: d.dir, subPath: c.name }));
    appendAll(patch, `/spec/containers/${i}/volumeMounts`, c.volumeMounts, mounts);
  });
  const sidecar = sidecarContainer(policy, dirs, ctx);
  if (useNativeSidecar(policy, ctx)) {
    appendAll(patch, "/spec/initContainers", spec?.initContainers, [sidecar]);
  } else {
    appendAll(patch, "/spec/containers", containers, [sidecar]);
  }
  return { ok: true, patch };
}

/**
 * The spec fields the patch is made of (volumes, mounts, the sidecar container). Other fields
 * reach the sidecar through its ConfigMap and Secret, which it reloads without a restart.
 */
export function podShape(policy: Policy): string {
  const { spec } = policy;
  const shape = {
    dirs: logDirs(spec).map((d) => d.dir),
    containers: spec.containers ?? null,
    sidecar: spec.sidecar,
    tls: spec.sink.kafka.tlsSecret ?? null,
    sasl: spec.sink.kafka.saslSecret ?? null,
  };
  return createHash("sha256").update(JSON.stringify(shape)).digest("hex").slice(0, 16);
}

/**
 * How the sidecar (a fixed non-root uid) reads logs an app writes as another user with a mode
 * like 0640: through the pod's fsGroup. kubelet makes every emptyDir, the log volumes included,
 * owned by that group and setgid, so the app's files get the group, and adds the group to every
 * container, the sidecar included. A pod with its own fsGroup keeps it; one without gets the
 * sidecar's gid, applied only where the owner is not yet right (OnRootMismatch). An app that
 * writes its log with no group read bit (0600) still cannot be read: the sidecar reports it.
 */
function logGroupPatch(pod: V1Pod): JsonPatch[] {
  const security = pod.spec?.securityContext;
  if (security?.fsGroup !== undefined) return [];
  if (security === undefined) {
    return [
      {
        op: "add",
        path: "/spec/securityContext",
        value: { fsGroup: NON_ROOT_UID, fsGroupChangePolicy: "OnRootMismatch" },
      },
    ];
  }
  const patch: JsonPatch[] = [
    { op: "add", path: "/spec/securityContext/fsGroup", value: NON_ROOT_UID },
  ];
  if (security.fsGroupChangePolicy === undefined) {
    patch.push({
      op: "add",
      path: "/spec/securityContext/fsGroupChangePolicy",
      value: "OnRootMismatch",
    });
  }
  return patch;
}

function fail(kind: InjectionError["kind"], message: string): InjectionResult {
  return { ok: false, error: { kind, message } };
}

/** Adds items to an array that may not exist yet: one add of the whole array, or one per item. */
function appendAll(
  patch: JsonPatch[],
  path: string,
  existing: unknown[] | undefined,
  items: unknown[],
) {
  if (existing === undefined) patch.push({ op: "add", path, value: items });
  else for (const value of items) patch.push({ op: "add", path: `${path}/-`, value });
}

function volumes(policy: Policy, dirs: readonly LogDir[]): V1Volume[] {
  const kafka = policy.spec.sink.kafka;
  const out: V1Volume[] = [
    ...dirs.map((d) => ({ name: d.volume, emptyDir: {} })),
    {
      // One read-only volume at /etc/auditready: config.yaml and keys/policy.key. Projected
      // rather than nested mounts (a mount point cannot be created inside a ConfigMap volume),
      // and not subPath (subPath mounts never see ConfigMap updates, which the sidecar reloads).
      name: CONFIG_VOLUME,
      projected: {
        // World-readable inside the pod's own mount: the sidecar runs as a fixed non-root uid
        // and the pod may set no fsGroup, so 0440 (root-owned) would lock the sidecar out.
        defaultMode: 0o444,
        sources: [
          {
            configMap: {
              name: configMapName(policy.name),
              items: [{ key: "config.yaml", path: "config.yaml" }],
            },
          },
          {
            secret: {
              name: keySecretName(policy.name),
              items: [{ key: KEY_FILE, path: `keys/${KEY_FILE}` }],
            },
          },
        ],
      },
    },
    { name: TMP_VOLUME, emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
  ];
  if (kafka.tlsSecret !== undefined) {
    out.push({ name: TLS_VOLUME, secret: { secretName: kafka.tlsSecret, defaultMode: 0o444 } });
  }
  if (kafka.saslSecret !== undefined) {
    out.push({ name: SASL_VOLUME, secret: { secretName: kafka.saslSecret, defaultMode: 0o444 } });
  }
  return out;
}

function defined(values: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values).filter((e): e is [string, string] => e[1] !== undefined),
  );
}

function fieldEnv(name: string, fieldPath: string): V1EnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

function sidecarContainer(
  policy: Policy,
  dirs: readonly LogDir[],
  ctx: InjectionContext,
): V1Container {
  const { sidecar, sink } = policy.spec;
  const mounts: V1VolumeMount[] = [
    ...dirs.map((d) => ({ name: d.volume, mountPath: d.dir })),
    { name: CONFIG_VOLUME, mountPath: CONFIG_DIR, readOnly: true },
    { name: TMP_VOLUME, mountPath: "/tmp" },
  ];
  if (sink.kafka.tlsSecret !== undefined) {
    mounts.push({ name: TLS_VOLUME, mountPath: KAFKA_TLS_DIR, readOnly: true });
  }
  if (sink.kafka.saslSecret !== undefined) {
    mounts.push({ name: SASL_VOLUME, mountPath: KAFKA_SASL_DIR, readOnly: true });
  }
  const probe = (path: string) => ({ httpGet: { path, port: "auditready" } });
  return {
    name: SIDECAR_CONTAINER,
    image: sidecar.image,
    imagePullPolicy: sidecar.imagePullPolicy,
    // The image's entrypoint is `auditready` (image/build.sh); this is its sidecar command.
    args: ["sidecar"],
    ...(useNativeSidecar(policy, ctx) && { restartPolicy: "Always" }),
    env: [
      { name: "AUDITREADY_CLUSTER", value: ctx.cluster },
      { name: "AUDITREADY_CONFIG", value: CONFIG_FILE },
      fieldEnv("POD_NAME", "metadata.name"),
      fieldEnv("POD_NAMESPACE", "metadata.namespace"),
      fieldEnv("POD_UID", "metadata.uid"),
      fieldEnv("NODE_NAME", "spec.nodeName"),
      fieldEnv("POD_SERVICE_ACCOUNT", "spec.serviceAccountName"),
    ],
    ports: [{ name: "auditready", containerPort: SIDECAR_PORT, protocol: "TCP" }],
    // A native sidecar's startup probe holds the app containers until the sidecar is serving,
    // so no line is written before something is tailing it.
    startupProbe: { ...probe("/healthz"), periodSeconds: 1, failureThreshold: 60 },
    readinessProbe: { ...probe("/readyz"), periodSeconds: 5 },
    resources: {
      requests: defined({ cpu: "50m", memory: "64Mi", ...sidecar.resources?.requests }),
      limits: defined({ memory: "256Mi", ...sidecar.resources?.limits }),
    },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: NON_ROOT_UID,
      runAsGroup: NON_ROOT_UID,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    volumeMounts: mounts,
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
}
