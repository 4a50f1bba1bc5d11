// What injection adds to a pod, as plain data: the volumes, the sidecar container, the log
// mounts of each selected app container, and the hash of the policy fields that shape them.
// One source for both sides: inject.ts turns it into a JSON patch, sidecar-match.ts compares a
// pod against it. Pure; nothing here reads the API.
import { createHash } from "node:crypto";
import type { V1Container, V1EnvVar, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import type { Policy } from "./api/policy.ts";
import { type LogDir, logDirs } from "./logdirs.ts";
import {
  CERTIFY_CA_KEY,
  CONFIG_DIR,
  CONFIG_FILE,
  configMapName,
  KAFKA_SASL_DIR,
  KAFKA_TLS_DIR,
  SIDECAR_CONTAINER,
  SIDECAR_PORT,
  TOKEN_AUDIENCE,
  TOKEN_DIR,
  TOKEN_EXPIRY_SECONDS,
  TOKEN_VOLUME,
} from "./names.ts";

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

export const CONFIG_VOLUME = "auditready-config";
export const TMP_VOLUME = "auditready-tmp";
export const TLS_VOLUME = "auditready-kafka-tls";
export const SASL_VOLUME = "auditready-kafka-sasl";
export const NON_ROOT_UID = 65532;

const FIXED_VOLUMES = new Set([CONFIG_VOLUME, TMP_VOLUME, TLS_VOLUME, SASL_VOLUME, TOKEN_VOLUME]);
const LOG_VOLUME = /^auditready-logs-\d+$/;

/** Whether injection may add a volume of this name (for any policy): no pod may bring its own. */
export function isInjectionVolume(name: string): boolean {
  return FIXED_VOLUMES.has(name) || LOG_VOLUME.test(name);
}

/**
 * Bumped when what injection adds changes for the same policy spec (an operator upgrade), so
 * pods injected the old way count as outdated rather than as the same shape.
 * 2: the policy key is no longer mounted; the sidecar gets a projected token and the certify CA.
 */
const INJECTION_FORMAT = 2;

/**
 * The spec fields the patch is made of (volumes, mounts, the sidecar container), and the
 * injection format. Other fields reach the sidecar through its ConfigMap, which it reloads.
 */
export function podShape(policy: Policy): string {
  const { spec } = policy;
  const shape = {
    format: INJECTION_FORMAT,
    dirs: logDirs(spec).map((d) => d.dir),
    containers: spec.containers ?? null,
    sidecar: spec.sidecar,
    tls: spec.sink.kafka.tlsSecret ?? null,
    sasl: spec.sink.kafka.saslSecret ?? null,
  };
  return createHash("sha256").update(JSON.stringify(shape)).digest("hex").slice(0, 16);
}

/** The app containers whose logs are shipped: the policy's list, or every container. */
export function selectedContainers(policy: Policy, containers: readonly string[]): string[] {
  return policy.spec.containers ?? [...containers];
}

/** An app container's view of the shared log volumes: its own subPath of each. */
export function logMounts(dirs: readonly LogDir[], container: string): V1VolumeMount[] {
  return dirs.map((d) => ({ name: d.volume, mountPath: d.dir, subPath: container }));
}

// World-readable inside the pod's own mount: the sidecar runs as a fixed non-root uid and the
// pod may set no fsGroup, so 0440 (root-owned) would lock the sidecar out. Only containers that
// mount a volume see it, and only the sidecar mounts these.
const POD_READABLE = 0o444;

export function injectedVolumes(policy: Policy, dirs: readonly LogDir[]): V1Volume[] {
  const kafka = policy.spec.sink.kafka;
  const out: V1Volume[] = [
    ...dirs.map((d) => ({ name: d.volume, emptyDir: {} })),
    {
      // One read-only volume at /etc/auditready: config.yaml and the operator's serving CA (to
      // reach its certify endpoint). Projected rather than a ConfigMap volume so more sources
      // can join; not subPath (subPath mounts never see ConfigMap updates, which the sidecar
      // reloads). No private key: the sidecar makes its epoch key and has it certified.
      name: CONFIG_VOLUME,
      projected: {
        defaultMode: POD_READABLE,
        sources: [
          {
            configMap: {
              name: configMapName(policy.name),
              items: [
                { key: "config.yaml", path: "config.yaml" },
                { key: CERTIFY_CA_KEY, path: CERTIFY_CA_KEY },
              ],
            },
          },
        ],
      },
    },
    {
      // The sidecar's identity toward the operator: a token bound to this pod, for the
      // auditready audience only (useless against the API server), refreshed by kubelet. A
      // projected token works whatever the pod's automountServiceAccountToken says.
      name: TOKEN_VOLUME,
      projected: {
        defaultMode: POD_READABLE,
        sources: [
          {
            serviceAccountToken: {
              audience: TOKEN_AUDIENCE,
              expirationSeconds: TOKEN_EXPIRY_SECONDS,
              path: "token",
            },
          },
        ],
      },
    },
    { name: TMP_VOLUME, emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
  ];
  if (kafka.tlsSecret !== undefined) {
    out.push({
      name: TLS_VOLUME,
      secret: { secretName: kafka.tlsSecret, defaultMode: POD_READABLE },
    });
  }
  if (kafka.saslSecret !== undefined) {
    out.push({
      name: SASL_VOLUME,
      secret: { secretName: kafka.saslSecret, defaultMode: POD_READABLE },
    });
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

export function sidecarContainer(
  policy: Policy,
  dirs: readonly LogDir[],
  ctx: InjectionContext,
): V1Container {
  const { sidecar, sink } = policy.spec;
  const mounts: V1VolumeMount[] = [
    ...dirs.map((d) => ({ name: d.volume, mountPath: d.dir })),
    { name: CONFIG_VOLUME, mountPath: CONFIG_DIR, readOnly: true },
    { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true },
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
