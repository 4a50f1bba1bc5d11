import { createHash } from "node:crypto";

// The names and annotations the operator and the sidecar agree on, in one place: objects made
// per policy, the pod annotations that record injection, and the paths inside the sidecar.
export const SIDECAR_CONTAINER = "auditready-sidecar";

/** Set on a pod by injection: "<policy>@<generation>" of the policy it was injected with. */
export const INJECTED_ANNOTATION = "auditready.dev/injected";
/**
 * Set with INJECTED_ANNOTATION: a hash of the spec fields that shape the pod (podShape). A pod
 * injected by an older generation whose shape is unchanged (a key rotation, a redaction rule:
 * the sidecar reloads those) is still covered; only a different shape makes it outdated.
 */
export const SHAPE_ANNOTATION = "auditready.dev/injected-shape";
/** A pod with this annotation set to "false" opts out (refused when an Enforce policy selects it). */
export const INJECT_ANNOTATION = "auditready.dev/inject";
/** Labels on objects the operator creates for a policy. */
export const POLICY_LABEL = "auditready.dev/policy";
export const POLICY_NAMESPACE_LABEL = "auditready.dev/policy-namespace";
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "auditready-operator";

export const CONFIG_DIR = "/etc/auditready";
export const CONFIG_FILE = `${CONFIG_DIR}/config.yaml`;
export const KEY_DIR = `${CONFIG_DIR}/keys`;
export const KEY_FILE = "policy.key";
/**
 * The sidecar's projected ServiceAccount token: audience `auditready`, bound to the pod, short
 * lived (kubelet refreshes the file). The sidecar presents it to the operator to get its epoch
 * key certified; the API server's TokenReview tells the operator which pod it came from.
 */
export const TOKEN_VOLUME = "auditready-token";
export const TOKEN_DIR = "/var/run/secrets/auditready.dev";
export const TOKEN_FILE = `${TOKEN_DIR}/token`;
export const TOKEN_AUDIENCE = "auditready";
export const TOKEN_EXPIRY_SECONDS = 600;
/** The CA that signed the operator's serving certificate, in the policy's ConfigMap. */
export const CERTIFY_CA_KEY = "certify-ca.crt";
export const CERTIFY_CA_FILE = `${CONFIG_DIR}/${CERTIFY_CA_KEY}`;
export const CERTIFY_PATH = "/certify";
export const KAFKA_TLS_DIR = "/var/run/auditready/kafka-tls";
export const KAFKA_SASL_DIR = "/var/run/auditready/kafka-sasl";
export const SIDECAR_PORT = 9464;

export const configMapName = (policy: string) => `auditready-${policy}-config`;
export const keySecretName = (policy: string) => `auditready-${policy}-key`;
/** The policy key Secret, in the operator's namespace (see controller/keysecret.ts). */
export function policyKeySecretName(namespace: string, policy: string): string {
  const name = `auditready-key-${namespace}-${policy}`;
  if (name.length <= 253) return name;
  return `auditready-key-${createHash("sha256").update(`${namespace}/${policy}`).digest("hex").slice(0, 32)}`;
}
export const publicKeysConfigMapName = (policy: string) => `auditready-${policy}-keys`;
export const injectedValue = (policy: string, generation: number) => `${policy}@${generation}`;

export function parseInjected(
  value: string | undefined,
): { policy: string; generation: number } | undefined {
  const m = value === undefined ? null : /^(.+)@(\d+)$/.exec(value);
  return m?.[1] && m[2] ? { policy: m[1], generation: Number(m[2]) } : undefined;
}
