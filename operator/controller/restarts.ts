// Restarts the workloads rollout.ts picked, as `kubectl rollout restart` does: a merge patch of
// the pod template's annotations, which makes the workload controller replace its pods (and
// the new pods pass through the webhook). The template also records policy@generation, so the
// same generation never restarts a workload twice.
import { type AppsV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { Policy } from "../api/policy.ts";
import {
  type OwnerRef,
  RESTARTED_AT_ANNOTATION,
  RESTARTED_FOR_ANNOTATION,
  type RestartTarget,
  restartedFor,
} from "../rollout.ts";

export interface RestartOutcome {
  restarted: RestartTarget[];
  failed: { target: string; message: string }[];
}

const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

export async function restartOwners(
  apps: AppsV1Api,
  policy: Policy,
  owners: readonly OwnerRef[],
  now: string,
): Promise<RestartOutcome> {
  const out: RestartOutcome = { restarted: [], failed: [] };
  const namespace = policy.namespace;
  const targets = new Map<string, RestartTarget>();
  for (const o of owners) {
    try {
      if (o.kind === "ReplicaSet") {
        const rs = await apps.readNamespacedReplicaSet({ namespace, name: o.name });
        const d = rs.metadata?.ownerReferences?.find(
          (r) => r.controller && r.kind === "Deployment",
        );
        // A bare ReplicaSet does not replace running pods when its template changes.
        if (d) targets.set(`Deployment/${d.name}`, { kind: "Deployment", name: d.name });
      } else if (o.kind === "StatefulSet" || o.kind === "DaemonSet") {
        targets.set(`${o.kind}/${o.name}`, { kind: o.kind, name: o.name });
      }
    } catch (err) {
      out.failed.push({ target: `${o.kind}/${o.name}`, message: String(err) });
    }
  }
  const value = restartedFor(policy);
  for (const t of targets.values()) {
    try {
      const current = await read(apps, t, namespace);
      if (current.spec?.template?.metadata?.annotations?.[RESTARTED_FOR_ANNOTATION] === value)
        continue;
      const body = {
        spec: {
          template: {
            metadata: {
              annotations: { [RESTARTED_AT_ANNOTATION]: now, [RESTARTED_FOR_ANNOTATION]: value },
            },
          },
        },
      };
      await patch(apps, t, namespace, body);
      out.restarted.push(t);
    } catch (err) {
      out.failed.push({ target: `${t.kind}/${t.name}`, message: String(err) });
    }
  }
  return out;
}

type Workload = { spec?: { template?: { metadata?: { annotations?: Record<string, string> } } } };

function read(apps: AppsV1Api, t: RestartTarget, namespace: string): Promise<Workload> {
  const ref = { namespace, name: t.name };
  if (t.kind === "Deployment") return apps.readNamespacedDeployment(ref);
  if (t.kind === "StatefulSet") return apps.readNamespacedStatefulSet(ref);
  return apps.readNamespacedDaemonSet(ref);
}

function patch(
  apps: AppsV1Api,
  t: RestartTarget,
  namespace: string,
  body: object,
): Promise<unknown> {
  const ref = { namespace, name: t.name, body };
  if (t.kind === "Deployment") return apps.patchNamespacedDeployment(ref, merge);
  if (t.kind === "StatefulSet") return apps.patchNamespacedStatefulSet(ref, merge);
  return apps.patchNamespacedDaemonSet(ref, merge);
}
