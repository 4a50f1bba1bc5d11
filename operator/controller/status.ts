// Writes a policy's status (only when it differs from what the server has) and records its
// Events. Kept apart from the reconcile steps: this is the one place the operator reports.
import {
  type CoreV1Api,
  type CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { type AuditPolicyStatus, GROUP, PLURAL, VERSION } from "../api/policy.ts";
import { type PolicyEvent, sameStatus } from "../reconcile.ts";

export interface StatusDeps {
  core: CoreV1Api;
  objects: CustomObjectsApi;
  identity: string;
  log: Logger;
}

interface StatusTarget {
  metadata: { name: string; namespace: string; uid: string };
  status?: AuditPolicyStatus;
}

const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

export async function writeStatus(
  deps: StatusDeps,
  raw: StatusTarget,
  status: AuditPolicyStatus,
  events: PolicyEvent[],
): Promise<void> {
  const { name, namespace, uid } = raw.metadata;
  if (!sameStatus(raw.status, status)) {
    // Absent keys are written as null so a merge patch removes what is no longer true.
    // The integrity block belongs to the verifier (auditready verify --status): once the server
    // has one it is left out of the patch, so a reconcile from a stale cache cannot undo it.
    const { integrity, ...rest } = status;
    const body = {
      status: {
        signingKeys: null,
        publicKeysConfigMap: null,
        ...rest,
        ...(raw.status?.integrity === undefined && integrity ? { integrity } : {}),
      },
    };
    const updated = (await deps.objects.patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, plural: PLURAL, namespace, name, body },
      merge,
    )) as StatusTarget;
    // The informer will deliver this too; keeping it now avoids a stale compare meanwhile.
    raw.status = updated.status ?? status;
  }
  for (const e of events) {
    try {
      await deps.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: `${name}.`, namespace },
          involvedObject: {
            apiVersion: `${GROUP}/${VERSION}`,
            kind: "AuditPolicy",
            name,
            namespace,
            uid,
          },
          type: e.type,
          reason: e.reason,
          message: e.message,
          source: { component: "auditready-operator" },
          reportingComponent: "auditready.dev/operator",
          reportingInstance: deps.identity,
          firstTimestamp: new Date(),
          lastTimestamp: new Date(),
          count: 1,
        },
      });
    } catch (err) {
      // An Event is a notice, not state: failing to record one must not fail the reconcile.
      deps.log.warn({ err: String(err), policy: `${namespace}/${name}` }, "could not record event");
    }
  }
}
