// The pod mutation, as a pure function: injectionPatch(pod, policy) -> RFC 6902 JSON patch.
// JSON patch only (never a re-serialized pod), so fields this code does not know, such as a
// native sidecar's restartPolicy added by another webhook, survive. Idempotent: a pod already
// carrying the injection gets an empty patch, so reinvocationPolicy IfNeeded and repeated calls
// are safe; but only when it is exactly what this policy injects (sidecar-match.ts), so the
// annotation alone, or a container merely named like the sidecar, gets no pod past the webhook.
// What is injected is sidecar-spec.ts. Nothing here reads the API: the webhook calls it on its
// hot path.
import type { V1Pod } from "@kubernetes/client-node";
import type { Policy } from "./api/policy.ts";
import { logDirs } from "./logdirs.ts";
import {
  INJECTED_ANNOTATION,
  injectedValue,
  SHAPE_ANNOTATION,
  SIDECAR_CONTAINER,
  TOKEN_AUDIENCE,
} from "./names.ts";
import { checkInjectedPod } from "./sidecar-match.ts";
import {
  type InjectionContext,
  injectedVolumes,
  logMounts,
  NON_ROOT_UID,
  podShape,
  selectedContainers,
  sidecarContainer,
  useNativeSidecar,
} from "./sidecar-spec.ts";

export type JsonPatch =
  | { op: "add"; path: string; value: unknown }
  | { op: "replace"; path: string; value: unknown };

export interface InjectionError {
  /** SidecarMismatch: the pod claims injection (annotation or sidecar) but differs from it. */
  kind:
    | "ContainerNotFound"
    | "MountConflict"
    | "NameConflict"
    | "AudienceConflict"
    | "SharedProcessNamespace"
    | "SidecarMismatch";
  message: string;
}

export type InjectionResult =
  | { ok: true; patch: JsonPatch[] }
  | { ok: false; error: InjectionError };

const pointerToken = (key: string) => key.replaceAll("~", "~0").replaceAll("/", "~1");

export function injectionPatch(pod: V1Pod, policy: Policy, ctx: InjectionContext): InjectionResult {
  const annotations = pod.metadata?.annotations;
  const spec = pod.spec;
  const containers = spec?.containers ?? [];
  const all = [...containers, ...(spec?.initContainers ?? [])];
  if (
    annotations?.[INJECTED_ANNOTATION] !== undefined ||
    all.some((c) => c.name === SIDECAR_CONTAINER)
  ) {
    const match = checkInjectedPod(pod, policy, ctx);
    return match.ok ? { ok: true, patch: [] } : fail("SidecarMismatch", match.message);
  }
  // One process namespace would show the app's containers the sidecar's processes, and its
  // memory (the epoch key) to any of them running as its uid: the key must stay in the sidecar.
  if (spec?.shareProcessNamespace === true) {
    return fail(
      "SharedProcessNamespace",
      "the pod sets shareProcessNamespace: the sidecar's in-memory signing key would be visible to the app's containers",
    );
  }
  const dirs = logDirs(policy.spec);

  const selected = selectedContainers(
    policy,
    containers.map((c) => c.name),
  );
  const missing = selected.filter((n) => !containers.some((c) => c.name === n));
  if (missing.length > 0) {
    return fail("ContainerNotFound", `the pod has no container named ${missing.join(", ")}`);
  }
  const ours = new Set(injectedVolumes(policy, dirs).map((v) => v.name));
  const taken = (spec?.volumes ?? []).filter((v) => ours.has(v.name)).map((v) => v.name);
  if (taken.length > 0) {
    return fail("NameConflict", `the pod already has a volume named ${taken.join(", ")}`);
  }
  const token = (spec?.volumes ?? []).find((v) =>
    v.projected?.sources?.some((s) => s.serviceAccountToken?.audience === TOKEN_AUDIENCE),
  );
  if (token) {
    return fail(
      "AudienceConflict",
      `volume ${token.name} asks for a ServiceAccount token for audience ${TOKEN_AUDIENCE}, which only ${SIDECAR_CONTAINER} may hold`,
    );
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
  appendAll(patch, "/spec/volumes", spec?.volumes, injectedVolumes(policy, dirs));
  patch.push(...logGroupPatch(pod));
  // A projected ServiceAccount token (the sidecar's) is invalid without a serviceAccountName.
  // The ServiceAccount admission plugin sets "default" before webhooks run; where that plugin
  // is off, injection sets the same default rather than have the pod refused.
  if (!spec?.serviceAccountName) {
    patch.push({ op: "add", path: "/spec/serviceAccountName", value: "default" });
  }
  containers.forEach((c, i) => {
    if (!selected.includes(c.name)) return;
    appendAll(patch, `/spec/containers/${i}/volumeMounts`, c.volumeMounts, logMounts(dirs, c.name));
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
