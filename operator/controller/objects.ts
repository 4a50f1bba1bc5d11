// Create-or-update of the namespaced objects the operator owns for a policy (ConfigMaps,
// Secrets), with an owner reference so deleting the policy deletes them. Writes only when the
// content differs, so a level-triggered reconcile that runs often costs reads, not writes.
import { ApiException, type CoreV1Api, type V1OwnerReference } from "@kubernetes/client-node";
import { API_VERSION, KIND, type Policy } from "../api/policy.ts";
import { MANAGED_BY, MANAGED_BY_LABEL, POLICY_LABEL } from "../names.ts";

export type Upserted = "created" | "updated" | "unchanged";

export function ownerReference(policy: Policy): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: policy.name,
    uid: policy.uid,
    controller: true,
  };
}

export function labelsFor(policy: Policy): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY, [POLICY_LABEL]: policy.name };
}

export const notFound = (err: unknown) => err instanceof ApiException && err.code === 404;
export const conflict = (err: unknown) => err instanceof ApiException && err.code === 409;

export async function upsertConfigMap(
  core: CoreV1Api,
  policy: Policy,
  name: string,
  data: Record<string, string>,
): Promise<Upserted> {
  const namespace = policy.namespace;
  const metadata = {
    name,
    namespace,
    labels: labelsFor(policy),
    ownerReferences: [ownerReference(policy)],
  };
  let current: Awaited<ReturnType<CoreV1Api["readNamespacedConfigMap"]>>;
  try {
    current = await core.readNamespacedConfigMap({ namespace, name });
  } catch (err) {
    if (!notFound(err)) throw err;
    await core.createNamespacedConfigMap({ namespace, body: { metadata, data } });
    return "created";
  }
  if (JSON.stringify(current.data ?? {}) === JSON.stringify(data)) return "unchanged";
  await core.replaceNamespacedConfigMap({
    namespace,
    name,
    body: {
      metadata: { ...metadata, resourceVersion: current.metadata?.resourceVersion ?? "" },
      data,
    },
  });
  return "updated";
}
