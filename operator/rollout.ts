// spec.rollout: which workloads to restart so their pods come back injected. Pure: from the
// uncovered pods and their owners, the restart targets. A workload is restarted at most once
// per policy generation (the annotation below records it), so a pod that still cannot be
// injected never causes a restart loop.
import type { Policy, UncoveredPod } from "./api/policy.ts";
import type { PodView } from "./podview.ts";

export const RESTARTED_FOR_ANNOTATION = "auditready.dev/restarted-for";
export const RESTARTED_AT_ANNOTATION = "auditready.dev/restartedAt";

export interface OwnerRef {
  kind: string;
  name: string;
}

export type WorkloadKind = "Deployment" | "StatefulSet" | "DaemonSet";
export interface RestartTarget {
  kind: WorkloadKind;
  name: string;
}

/** The pods' owners to resolve (a ReplicaSet still needs its Deployment looked up). */
export function ownersToRestart(
  policy: Policy,
  uncovered: readonly UncoveredPod[],
  pods: readonly PodView[],
): OwnerRef[] {
  const reasons = new Set<string>(policy.spec.rollout.restart);
  if (reasons.size === 0) return [];
  const byName = new Map(pods.map((p) => [p.name, p]));
  const owners = new Map<string, OwnerRef>();
  for (const u of uncovered) {
    if (!reasons.has(u.reason)) continue;
    const owner = byName.get(u.pod)?.owner;
    if (owner && ["ReplicaSet", "StatefulSet", "DaemonSet"].includes(owner.kind)) {
      owners.set(`${owner.kind}/${owner.name}`, owner);
    }
  }
  return [...owners.values()].sort((a, b) =>
    `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`),
  );
}

export const restartedFor = (policy: Policy) => `${policy.name}@${policy.generation}`;
