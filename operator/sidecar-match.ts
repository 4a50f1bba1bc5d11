// Whether a pod carries exactly what auditready-operator injects for a policy: the sidecar
// container, the volumes injection adds, and each other container's mounts of those volumes.
// The webhook refuses a pod that claims injection without matching (a forged annotation, a
// hand-written or edited sidecar); the controller counts only matching pods as injected; the
// certify endpoint is to certify only their sidecars. Compared after filling in what the API
// server defaults (pod-defaults.ts), so a stored pod compares equal to its own injection.
//
// Deliberately tolerated, because in-tree admission plugins change every container of a pod
// (and run again after our patch, so the sidecar too), and none of it lets a sidecar forge:
// - ServiceAccount: a read-only mount of the pod's API token (kube-api-access-*) at
//   /var/run/secrets/kubernetes.io/serviceaccount, when the pod automounts it;
// - LimitRanger: requests and limits of resources injection does not set (a LimitRange
//   default); the ones it sets must still be equal;
// - AlwaysPullImages: imagePullPolicy Always (the image itself must still be equal).
// Nothing else: any other field set on the sidecar differs.
import type { V1Container, V1Pod, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import type { Policy } from "./api/policy.ts";
import { logDirs } from "./logdirs.ts";
import {
  INJECTED_ANNOTATION,
  injectedValue,
  parseInjected,
  SHAPE_ANNOTATION,
  SIDECAR_CONTAINER,
  TOKEN_AUDIENCE,
  TOKEN_VOLUME,
} from "./names.ts";
import { defaultContainer, defaultVolume, plain } from "./pod-defaults.ts";
import {
  type InjectionContext,
  injectedVolumes,
  isInjectionVolume,
  logMounts,
  podShape,
  selectedContainers,
  sidecarContainer,
  useNativeSidecar,
} from "./sidecar-spec.ts";

/** What a pod carries of injection, extracted once (the controller keeps it per pod). */
export interface InjectedParts {
  /** The auditready-sidecar container and where it is; undefined when there is none. */
  sidecar?: { native: boolean; container: V1Container };
  /** The pod's volumes that carry an injection name, in pod order. */
  volumes: V1Volume[];
  /** Every other container with its mounts of those volumes, in pod order. */
  others: OtherContainer[];
  /** Whether the pod sets securityContext.fsGroup (injection makes sure it does). */
  fsGroup: boolean;
  /** Other volumes asking for a ServiceAccount token for the auditready audience. */
  foreignTokens: string[];
}

export interface OtherContainer {
  name: string;
  kind: "container" | "initContainer" | "ephemeralContainer";
  mounts: V1VolumeMount[];
  /** An ephemeral container's targetContainerName: it then sees that container's processes. */
  target?: string;
}

export type Match = { ok: true } | { ok: false; message: string };

const SA_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount";
const SA_TOKEN_VOLUME = /^kube-api-access-[a-z0-9]+$/;

export function injectedParts(pod: V1Pod): InjectedParts {
  const spec = pod.spec;
  const volumes = (spec?.volumes ?? []).filter((v) => isInjectionVolume(v.name));
  const ours = new Set(volumes.map((v) => v.name));
  const parts: InjectedParts = {
    volumes: plain(volumes),
    others: [],
    fsGroup: spec?.securityContext?.fsGroup !== undefined,
    foreignTokens: (spec?.volumes ?? [])
      .filter(
        (v) =>
          v.name !== TOKEN_VOLUME &&
          v.projected?.sources?.some((s) => s.serviceAccountToken?.audience === TOKEN_AUDIENCE),
      )
      .map((v) => v.name),
  };
  const lists = [
    ["container", spec?.containers ?? []],
    ["initContainer", spec?.initContainers ?? []],
    ["ephemeralContainer", spec?.ephemeralContainers ?? []],
  ] as const;
  for (const [kind, list] of lists) {
    for (const c of list) {
      if (c.name === SIDECAR_CONTAINER && kind !== "ephemeralContainer") {
        parts.sidecar = { native: kind === "initContainer", container: plain(c) };
        continue;
      }
      const other: OtherContainer = {
        name: c.name,
        kind,
        mounts: plain((c.volumeMounts ?? []).filter((m) => ours.has(m.name))),
      };
      if ("targetContainerName" in c && c.targetContainerName) other.target = c.targetContainerName;
      parts.others.push(other);
    }
  }
  return parts;
}

/** The pod's injection compared with what this policy injects now; the first difference. */
export function sidecarMatches(parts: InjectedParts, policy: Policy, ctx: InjectionContext): Match {
  const difference = firstDifference(parts, policy, ctx);
  return difference === undefined
    ? { ok: true }
    : {
        ok: false,
        message: `sidecar differs from what auditready-operator injects for policy ${injectedValue(policy.name, policy.generation)}: ${difference}`,
      };
}

/**
 * For admission: the pod's injection record (annotations) and its parts. A pod injected by an
 * older generation of the policy is accepted when the pod shape is unchanged: the parts are
 * then those the current generation injects.
 */
export function checkInjectedPod(pod: V1Pod, policy: Policy, ctx: InjectionContext): Match {
  const recordDiff = recordDifference(pod.metadata?.annotations ?? {}, policy);
  if (recordDiff !== undefined) {
    return {
      ok: false,
      message: `sidecar differs from what auditready-operator injects for policy ${injectedValue(policy.name, policy.generation)}: ${recordDiff}`,
    };
  }
  return sidecarMatches(injectedParts(pod), policy, ctx);
}

function recordDifference(annotations: Record<string, string>, policy: Policy): string | undefined {
  const value = annotations[INJECTED_ANNOTATION];
  if (value === undefined) {
    return `the pod has a container named ${SIDECAR_CONTAINER} but no ${INJECTED_ANNOTATION} annotation (only auditready-operator adds that container)`;
  }
  const record = parseInjected(value);
  if (record === undefined) {
    return `${INJECTED_ANNOTATION} is ${JSON.stringify(value)}, expected "<policy>@<generation>"`;
  }
  if (record.policy !== policy.name) {
    return `${INJECTED_ANNOTATION} names policy ${JSON.stringify(record.policy)}, expected ${JSON.stringify(policy.name)}`;
  }
  if (record.generation > policy.generation) {
    return `${INJECTED_ANNOTATION} names generation ${record.generation}, the policy is at generation ${policy.generation}`;
  }
  const shape = annotations[SHAPE_ANNOTATION];
  if (shape !== podShape(policy)) {
    return `${SHAPE_ANNOTATION} is ${JSON.stringify(shape ?? null)}, expected ${JSON.stringify(podShape(policy))} (injected for another pod shape; create the pod from a spec without the injection)`;
  }
  return undefined;
}

function firstDifference(
  parts: InjectedParts,
  policy: Policy,
  ctx: InjectionContext,
): string | undefined {
  const dirs = logDirs(policy.spec);
  if (parts.sidecar === undefined) return `the pod has no ${SIDECAR_CONTAINER} container`;
  const native = useNativeSidecar(policy, ctx);
  if (parts.sidecar.native !== native) {
    return native
      ? `${SIDECAR_CONTAINER} is a regular container, expected a native sidecar (an init container)`
      : `${SIDECAR_CONTAINER} is an init container, expected a regular container`;
  }
  const expected = defaultContainer(sidecarContainer(policy, dirs, ctx));
  const sidecar = withoutAdmissionChanges(defaultContainer(parts.sidecar.container), expected);
  const inSidecar = diff(sidecar, expected, "");
  if (inSidecar !== undefined) return inSidecar;

  const wanted = injectedVolumes(policy, dirs).map(defaultVolume);
  for (const w of wanted) {
    const have = parts.volumes.find((v) => v.name === w.name);
    if (have === undefined) return `the pod has no volume ${w.name}`;
    const d = diff(defaultVolume(have), w, "");
    if (d !== undefined) return `volume ${w.name}: ${d}`;
  }
  const extra = parts.volumes.find((v) => !wanted.some((w) => w.name === v.name));
  if (extra) return `volume ${extra.name} is not one this policy injects`;

  const apps = parts.others.filter((o) => o.kind === "container").map((o) => o.name);
  const selected = selectedContainers(policy, apps);
  const absent = selected.find((n) => !apps.includes(n));
  if (absent !== undefined)
    return `the pod has no container named ${absent}, which the policy selects`;
  for (const other of parts.others) {
    const want =
      other.kind === "container" && selected.includes(other.name)
        ? logMounts(dirs, other.name)
        : [];
    const d = mountDifference(other, want);
    if (d !== undefined) return d;
    if (other.target === SIDECAR_CONTAINER) {
      return `ephemeral container ${other.name} targets ${SIDECAR_CONTAINER}, whose processes it would see`;
    }
  }
  if (!parts.fsGroup) return "the pod sets no securityContext.fsGroup, which injection adds";
  const [token] = parts.foreignTokens;
  if (token !== undefined) {
    return `volume ${token} asks for a ServiceAccount token for audience ${JSON.stringify(TOKEN_AUDIENCE)}, which only ${SIDECAR_CONTAINER} may hold`;
  }
  return undefined;
}

/** The sidecar with what in-tree admission plugins add undone (see the header); nothing else. */
function withoutAdmissionChanges(c: V1Container, expected: V1Container): V1Container {
  const out: V1Container = { ...c };
  const mounts = c.volumeMounts?.filter(
    (m) => !(m.mountPath === SA_TOKEN_PATH && m.readOnly === true && SA_TOKEN_VOLUME.test(m.name)),
  );
  if (mounts) out.volumeMounts = mounts;
  if (c.imagePullPolicy === "Always" && expected.imagePullPolicy !== undefined) {
    out.imagePullPolicy = expected.imagePullPolicy;
  }
  const keep = (
    have: Record<string, string> | undefined,
    want: Record<string, string> | undefined,
  ) => have && Object.fromEntries(Object.entries(have).filter(([k]) => want?.[k] !== undefined));
  if (c.resources) {
    const requests = keep(c.resources.requests, expected.resources?.requests);
    const limits = keep(c.resources.limits, expected.resources?.limits);
    out.resources = { ...c.resources, ...(requests && { requests }), ...(limits && { limits }) };
  }
  return out;
}

const show = (v: unknown) => {
  const text = JSON.stringify(v);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
};

/** JSON with sorted keys: the API server returns a mount's fields in its own order. */
const sortedJson = (m: V1VolumeMount) =>
  JSON.stringify(Object.fromEntries(Object.entries(plain(m)).sort(([a], [b]) => (a < b ? -1 : 1))));

function mountDifference(other: OtherContainer, want: V1VolumeMount[]): string | undefined {
  const key = sortedJson;
  const wantKeys = want.map(key);
  const haveKeys = other.mounts.map(key);
  const extra = other.mounts.find((m) => !wantKeys.includes(key(m)));
  if (extra !== undefined) {
    return `${other.kind} ${other.name} mounts ${key(extra)}, which injection does not add`;
  }
  const missing = want.find((m) => !haveKeys.includes(key(m)));
  if (missing !== undefined) {
    return `${other.kind} ${other.name} lacks its log mount ${key(missing)}`;
  }
  if (haveKeys.length !== wantKeys.length) {
    return `${other.kind} ${other.name} mounts injected volumes ${haveKeys.length} times, expected ${wantKeys.length}`;
  }
  return undefined;
}

/** The first place where actual and expected plain JSON differ, named by its path. */
export function diff(actual: unknown, expected: unknown, path: string): string | undefined {
  const at = path === "" ? "the value" : path;
  if (Array.isArray(expected) && Array.isArray(actual)) {
    for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
      const p = `${path}[${i}]`;
      if (i >= actual.length) return `${p} is missing, expected ${show(expected[i])}`;
      if (i >= expected.length) return `${p} is ${show(actual[i])}, expected nothing`;
      const d = diff(actual[i], expected[i], p);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (isObject(expected) && isObject(actual)) {
    const keys = [...Object.keys(expected), ...Object.keys(actual).filter((k) => !(k in expected))];
    for (const k of keys) {
      const p = path === "" ? k : `${path}.${k}`;
      if (!(k in actual)) return `${p} is missing, expected ${show(expected[k])}`;
      if (!(k in expected)) return `${p} is ${show(actual[k])}, expected nothing`;
      const d = diff(actual[k], expected[k], p);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  return actual === expected ? undefined : `${at} is ${show(actual)}, expected ${show(expected)}`;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
