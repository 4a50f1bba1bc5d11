// The operator's RBAC, least privilege, as objects: the Helm chart and the integration tests use
// exactly these (operator/rbac.yaml is generated from them for the default names). Cluster-wide:
// read AuditPolicies and write their status; watch pods (never write them); get/create/update
// the Secrets and ConfigMaps it owns (no list, no delete: owner references clean up); record
// Events; get/update one named MutatingWebhookConfiguration. In its own namespace: its Lease and
// its serving-cert Secret.
import { GROUP, PLURAL } from "./api/policy.ts";

export interface RbacOptions {
  name: string;
  namespace: string;
  serviceAccount: string;
  webhookConfiguration: string;
  lease: string;
  /** The Service in front of the webhook and certify endpoint (default: name). */
  service?: string;
  /** The optional role for spec.rollout: patch Deployments, StatefulSets and DaemonSets. */
  rollout?: boolean;
}

export const DEFAULT_RBAC: RbacOptions = {
  name: "auditready-operator",
  namespace: "auditready-system",
  serviceAccount: "auditready-operator",
  webhookConfiguration: "auditready-operator",
  lease: "auditready-operator",
};

export function rbacManifests(o: RbacOptions): Record<string, unknown>[] {
  const subjects = [{ kind: "ServiceAccount", name: o.serviceAccount, namespace: o.namespace }];
  const rbac = "rbac.authorization.k8s.io";
  return [
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: o.serviceAccount, namespace: o.namespace },
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: "ClusterRole",
      metadata: { name: o.name },
      rules: [
        { apiGroups: [GROUP], resources: [PLURAL], verbs: ["get", "list", "watch"] },
        { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ["get", "patch", "update"] },
        // get: the certify endpoint reads the pod a token names, fresh, never from a cache.
        { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
        // The certify endpoint asks the API server whose projected token a sidecar presents.
        { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
        {
          apiGroups: [""],
          resources: ["secrets", "configmaps"],
          verbs: ["get", "create", "update"],
        },
        { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
        {
          apiGroups: ["admissionregistration.k8s.io"],
          resources: ["mutatingwebhookconfigurations"],
          resourceNames: [o.webhookConfiguration],
          verbs: ["get", "update", "patch"],
        },
      ],
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: "ClusterRoleBinding",
      metadata: { name: o.name },
      roleRef: { apiGroup: rbac, kind: "ClusterRole", name: o.name },
      subjects,
    },
    ...(o.rollout ? rolloutRbac(o) : []),
    {
      apiVersion: `${rbac}/v1`,
      kind: "Role",
      metadata: { name: o.name, namespace: o.namespace },
      rules: [
        // create cannot be limited by name (the object does not exist yet); the rest can.
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
        {
          apiGroups: ["coordination.k8s.io"],
          resources: ["leases"],
          resourceNames: [o.lease],
          verbs: ["get", "update"],
        },
        // Its own Service's cluster IP: the address sidecars certify their keys at.
        {
          apiGroups: [""],
          resources: ["services"],
          resourceNames: [o.service ?? o.name],
          verbs: ["get"],
        },
      ],
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: "RoleBinding",
      metadata: { name: o.name, namespace: o.namespace },
      roleRef: { apiGroup: rbac, kind: "Role", name: o.name },
      subjects,
    },
  ];
}

/**
 * Only for spec.rollout, bound separately so installations that do not want the operator to
 * restart workloads never grant it: read a ReplicaSet's owner, get and patch the workloads.
 */
export function rolloutRbac(o: RbacOptions): Record<string, unknown>[] {
  const rbac = "rbac.authorization.k8s.io";
  const name = `${o.name}-rollout`;
  return [
    {
      apiVersion: `${rbac}/v1`,
      kind: "ClusterRole",
      metadata: { name },
      rules: [
        { apiGroups: ["apps"], resources: ["replicasets"], verbs: ["get"] },
        {
          apiGroups: ["apps"],
          resources: ["deployments", "statefulsets", "daemonsets"],
          verbs: ["get", "patch"],
        },
      ],
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: "ClusterRoleBinding",
      metadata: { name },
      roleRef: { apiGroup: rbac, kind: "ClusterRole", name },
      subjects: [{ kind: "ServiceAccount", name: o.serviceAccount, namespace: o.namespace }],
    },
  ];
}
