// What the operator keeps of a Pod: the few fields coverage and injection read. Controllers that
// cache whole Pods run out of memory at a few thousand; this is a few hundred bytes per pod, plus
// the injected parts (a couple of KB) of a pod that claims injection, so coverage can check them.
import type { V1Pod } from "@kubernetes/client-node";
import {
  INJECT_ANNOTATION,
  INJECTED_ANNOTATION,
  SHAPE_ANNOTATION,
  SIDECAR_CONTAINER,
} from "./names.ts";
import { type InjectedParts, injectedParts } from "./sidecar-match.ts";

export interface PodView {
  namespace: string;
  name: string;
  uid: string;
  labels: Record<string, string>;
  /** The injection record (policy@generation), if any, and the pod shape it was made with. */
  injected?: string;
  injectedShape?: string;
  /**
   * What the pod carries of injection (sidecar, injected volumes, other containers' mounts of
   * them), kept when it has the annotation or a sidecar container; compared by sidecarMatches().
   */
  parts?: InjectedParts;
  optedOut: boolean;
  createdAt: string;
  containers: string[];
  /** undefined: no sidecar in the spec; else whether its status says ready. */
  sidecarReady?: boolean;
  /** Why the sidecar is not running, from its container status (image missing, crashing). */
  sidecarProblem?: string;
  /** The pod's address, for asking a running but not ready sidecar why (its /readyz). */
  podIP?: string;
  terminating: boolean;
  owner?: { kind: string; name: string };
}

interface RawContainer {
  name?: string;
}
interface RawState {
  waiting?: { reason?: string; message?: string };
  terminated?: { reason?: string; message?: string; exitCode?: number };
}
interface RawStatus {
  name?: string;
  ready?: boolean;
  state?: RawState;
  lastState?: RawState;
}
interface RawPod {
  metadata?: {
    namespace?: string;
    name?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string | Date;
    deletionTimestamp?: string | Date;
    ownerReferences?: { kind?: string; name?: string; controller?: boolean }[];
  };
  spec?: { containers?: RawContainer[]; initContainers?: RawContainer[] };
  status?: {
    phase?: string;
    podIP?: string;
    containerStatuses?: RawStatus[];
    initContainerStatuses?: RawStatus[];
  };
}

const iso = (t: string | Date | undefined) =>
  t instanceof Date ? t.toISOString() : t ? new Date(t).toISOString() : new Date(0).toISOString();

export function toPodView(raw: unknown): PodView | undefined {
  const pod = raw as RawPod;
  const m = pod.metadata;
  if (!m?.name || !m.namespace) return undefined;
  const phase = pod.status?.phase;
  const hasSidecar = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].some(
    (c) => c.name === SIDECAR_CONTAINER,
  );
  const status = [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? []),
  ].find((s) => s.name === SIDECAR_CONTAINER);
  const owner = m.ownerReferences?.find((o) => o.controller) ?? m.ownerReferences?.[0];
  const view: PodView = {
    namespace: m.namespace,
    name: m.name,
    uid: m.uid ?? "",
    labels: m.labels ?? {},
    optedOut: m.annotations?.[INJECT_ANNOTATION] === "false",
    createdAt: iso(m.creationTimestamp),
    containers: (pod.spec?.containers ?? [])
      .map((c) => c.name ?? "")
      .filter((n) => n !== "" && n !== SIDECAR_CONTAINER),
    terminating: m.deletionTimestamp !== undefined || phase === "Succeeded" || phase === "Failed",
  };
  const injected = m.annotations?.[INJECTED_ANNOTATION];
  if (injected !== undefined) view.injected = injected;
  const shape = m.annotations?.[SHAPE_ANNOTATION];
  if (shape !== undefined) view.injectedShape = shape;
  if (hasSidecar || injected !== undefined) view.parts = injectedParts(raw as V1Pod);
  if (hasSidecar) view.sidecarReady = status?.ready === true;
  const problem = status && !status.ready ? problemOf(status) : undefined;
  if (problem !== undefined) view.sidecarProblem = problem;
  if (hasSidecar && status && !status.ready && pod.status?.podIP) view.podIP = pod.status.podIP;
  if (owner?.kind && owner.name) view.owner = { kind: owner.kind, name: owner.name };
  return view;
}

/** The kubelet's words for a sidecar that is not running: waiting (and why), or how it last ended. */
function problemOf(status: RawStatus): string | undefined {
  const waiting = status.state?.waiting;
  const ended = status.state?.terminated ?? status.lastState?.terminated;
  const parts: string[] = [];
  if (waiting?.reason)
    parts.push(`${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}`);
  if (ended) {
    const how = `${ended.reason ?? "terminated"} (exit ${ended.exitCode ?? "?"})`;
    parts.push(`last ended ${how}${ended.message ? `: ${ended.message.trim().slice(-300)}` : ""}`);
  }
  return parts.length > 0 ? parts.join("; ") : undefined;
}
