// What the operator certifies, as a pure function of what the API server said: the token's
// review, the pod it names, and the policies of its namespace. A sidecar gets its epoch key
// certified for exactly the streams its own pod can have (the policy's sources for the pod's
// selected containers), for its pod UID, and for a short time. Nothing here does I/O.

import type { CertSubject } from "../../entry/record.ts";
import { originOf } from "../../sidecar/config/identity.ts";
import type { Policy } from "../api/policy.ts";
import { logDirs, sidecarPaths } from "../logdirs.ts";
import { INJECTED_ANNOTATION, parseInjected, SIDECAR_CONTAINER } from "../names.ts";
import { selectingPolicies } from "../select.ts";

/** The sidecar's request body. */
export interface CertifyRequest {
  /** Raw Ed25519 public key, base64. */
  key: string;
  /** When the key was made; clamped to the pod's creation time and to now. */
  notBefore?: string;
  streams: { origin: string; epoch: number; container: string }[];
}

/** What TokenReview said about the bearer token. */
export interface ReviewedToken {
  namespace: string;
  serviceAccount: string;
  podName: string;
  podUid: string;
}

/** The few fields of the pod that certification reads. */
export interface PodFacts {
  namespace: string;
  name: string;
  uid: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  serviceAccount: string;
  node: string;
  createdAt: string;
  containers: string[];
  hasSidecar: boolean;
  /** Whether the injected sidecar is exactly the operator's (admission's check), when known. */
  sidecarMismatch?: string;
}

export interface Grant {
  subject: CertSubject;
  notBefore: string;
  notAfter: string;
  streams: CertifyRequest["streams"];
  policy: Policy;
}

export type Decision =
  | { ok: true; grant: Grant }
  | { ok: false; status: 400 | 403; message: string };

export const MAX_STREAMS = 64;

export function decide(
  req: CertifyRequest,
  token: ReviewedToken,
  pod: PodFacts | undefined,
  policies: readonly Policy[],
  ctx: { cluster: string; now: number; validityMs: number },
): Decision {
  const who = `pod ${token.namespace}/${token.podName}`;
  if (!pod) return deny(403, `${who} no longer exists`);
  if (pod.uid !== token.podUid)
    return deny(403, `${who} is another pod now (uid ${pod.uid}, the token names ${token.podUid})`);
  if (pod.serviceAccount !== token.serviceAccount)
    return deny(
      403,
      `${who} runs as ${pod.serviceAccount}, the token is for ${token.serviceAccount}`,
    );
  const injected = parseInjected(pod.annotations[INJECTED_ANNOTATION]);
  if (!injected || !pod.hasSidecar) return deny(403, `${who} was not injected by auditready`);
  const chosen = selectingPolicies(pod.namespace, pod.labels, policies)[0];
  if (!chosen) return deny(403, `${who} is not selected by any AuditPolicy`);
  if (chosen.name !== injected.policy)
    return deny(
      403,
      `${who} was injected by ${injected.policy}, but ${chosen.name} selects it now`,
    );
  if (pod.sidecarMismatch) return deny(403, `${who}: ${pod.sidecarMismatch}`);

  if (typeof req.key !== "string" || Buffer.from(req.key, "base64").length !== 32)
    return deny(400, "key: expected a base64 raw Ed25519 public key (32 bytes)");
  if (!Array.isArray(req.streams) || req.streams.length === 0 || req.streams.length > MAX_STREAMS)
    return deny(400, `streams: expected 1 to ${MAX_STREAMS} streams`);
  const selected = chosen.spec.containers ?? pod.containers;
  const dirs = logDirs(chosen.spec);
  const identity = {
    cluster: ctx.cluster,
    namespace: pod.namespace,
    pod: pod.name,
    podUid: pod.uid,
    node: pod.node,
    serviceAccount: pod.serviceAccount,
  };
  for (const s of req.streams) {
    if (!Number.isSafeInteger(s.epoch) || s.epoch < 0)
      return deny(400, `stream ${s.origin}: epoch must be a non-negative integer`);
    if (!selected.includes(s.container) || !pod.containers.includes(s.container))
      return deny(403, `${who} has no container ${s.container} that ${chosen.name} ships`);
    const expected = originOf(identity, s.container, sidecarPaths(dirs, s.container)[0] ?? "");
    if (s.origin !== expected)
      return deny(
        403,
        `${who} cannot have stream ${s.origin} (its stream for ${s.container} is ${expected})`,
      );
  }
  const created = Date.parse(pod.createdAt);
  const asked = req.notBefore === undefined ? ctx.now : Date.parse(req.notBefore);
  if (Number.isNaN(asked)) return deny(400, "notBefore: expected an RFC 3339 time");
  // The key cannot be older than its pod, nor made in the future.
  const notBefore = Math.min(ctx.now, Math.max(asked, Number.isNaN(created) ? ctx.now : created));
  return {
    ok: true,
    grant: {
      subject: {
        cluster: ctx.cluster,
        namespace: pod.namespace,
        pod: pod.name,
        podUid: pod.uid,
        serviceAccount: pod.serviceAccount,
        node: pod.node,
        policy: chosen.name,
      },
      notBefore: new Date(notBefore).toISOString(),
      notAfter: new Date(ctx.now + ctx.validityMs).toISOString(),
      streams: req.streams,
      policy: chosen,
    },
  };
}

function deny(status: 400 | 403, message: string): Decision {
  return { ok: false, status, message };
}

/** A pod object as the API returns it, reduced to PodFacts. */
export function podFacts(raw: {
  metadata?: {
    namespace?: string;
    name?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string | Date;
  };
  spec?: {
    serviceAccountName?: string;
    nodeName?: string;
    containers?: { name?: string }[];
    initContainers?: { name?: string }[];
  };
}): PodFacts {
  const m = raw.metadata ?? {};
  const apps = (raw.spec?.containers ?? []).map((c) => c.name ?? "");
  const all = [...apps, ...(raw.spec?.initContainers ?? []).map((c) => c.name ?? "")];
  const created = m.creationTimestamp;
  return {
    namespace: m.namespace ?? "",
    name: m.name ?? "",
    uid: m.uid ?? "",
    labels: m.labels ?? {},
    annotations: m.annotations ?? {},
    serviceAccount: raw.spec?.serviceAccountName ?? "default",
    node: raw.spec?.nodeName ?? "",
    createdAt: created instanceof Date ? created.toISOString() : (created ?? ""),
    containers: apps.filter((n) => n !== SIDECAR_CONTAINER),
    hasSidecar: all.includes(SIDECAR_CONTAINER),
  };
}
