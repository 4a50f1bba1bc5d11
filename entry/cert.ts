// Key certificates: the operator's policy key vouching that an epoch key belongs to one stream
// of one pod, for a short time. The operator signs them (operator/certify/), the sidecar
// publishes them as `key-cert` messages, the verifier checks them. Pure: no I/O.
import { canonicalBytes } from "./canonical.ts";
import { type SigningKey, signBytes, verifyBytes } from "./keys.ts";
import type { CertSubject, KeyCert } from "./record.ts";

export type CertBody = Omit<KeyCert, "sig" | "policyKeyId">;

export function certifyKey(policyKey: SigningKey, body: CertBody): KeyCert {
  const signed = { ...body, policyKeyId: policyKey.keyId };
  return { ...signed, sig: signBytes(policyKey, canonicalBytes(signed)).toString("base64") };
}

/** Whether `cert` carries a valid signature of the policy key whose raw public key is given. */
export function certSignatureValid(cert: KeyCert, policyPublicKey: Buffer): boolean {
  const { sig, ...signed } = cert;
  return verifyBytes(policyPublicKey, canonicalBytes(signed), Buffer.from(sig, "base64"));
}

/** The `key-cert` message that carries a certificate into its stream (the Kafka key is the origin). */
export function keyCertMessage(cert: KeyCert): { key: string; value: Buffer } {
  return {
    key: cert.origin,
    value: canonicalBytes({ v: 1, type: "key-cert", origin: cert.origin, epoch: cert.epoch, cert }),
  };
}

/** The container segment of an origin `<cluster>/<ns>/<pod>/<container>/<file>`. */
export function originMatchesSubject(
  origin: string,
  subject: CertSubject,
  container: string,
): boolean {
  const prefix = `${subject.cluster}/${subject.namespace}/${subject.pod}/${container}/`;
  return origin.startsWith(prefix) && origin.length > prefix.length;
}
