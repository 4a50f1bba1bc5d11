// The policy's long-term Ed25519 key: made by the operator, kept in a Secret owned by the
// AuditPolicy (policy.key, PKCS#8 PEM, read by the sidecar), with the public history in
// keys.json. Rotation happens when spec.signing.keyRotation changes: the new key becomes
// current and the old one is kept, retired, so records it signed stay verifiable. Key ids
// follow entry/keys.ts: the first 8 bytes of SHA-256(0x01 || raw public key), hex.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { z } from "zod";
import { keyIdOf } from "../entry/keys.ts";
import { type SigningKeyStatus, SigningKeyStatus as SigningKeyStatusSchema } from "./api/policy.ts";

export const KEY_HISTORY = z.array(SigningKeyStatusSchema);

export interface KeyMaterial {
  privateKeyPem: string;
  key: SigningKeyStatus;
}

export interface KeyError {
  kind: "KeyError";
  message: string;
}

function rawPublic(privateKeyPem: string): Buffer {
  const jwk = createPublicKey(createPrivateKey(privateKeyPem)).export({ format: "jwk" });
  return Buffer.from(String(jwk.x), "base64url");
}

export function newKey(now: string): KeyMaterial {
  const { privateKey } = generateKeyPairSync("ed25519");
  const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const raw = rawPublic(privateKeyPem);
  return {
    privateKeyPem,
    key: { keyId: keyIdOf(raw), publicKey: raw.toString("base64"), notBefore: now },
  };
}

/** Checks a stored private key and returns its public status entry, or why it is unusable. */
export function readKey(
  privateKeyPem: string,
  notBefore: string,
): { ok: true; key: SigningKeyStatus } | { ok: false; error: KeyError } {
  try {
    const k = createPrivateKey(privateKeyPem);
    if (k.asymmetricKeyType !== "ed25519") {
      return fail(`policy.key is a ${k.asymmetricKeyType} key, not Ed25519`);
    }
    const raw = rawPublic(privateKeyPem);
    return { ok: true, key: { keyId: keyIdOf(raw), publicKey: raw.toString("base64"), notBefore } };
  } catch (err) {
    return fail(`policy.key is not a PKCS#8 PEM private key: ${(err as Error).message}`);
  }
}

function fail(message: string): { ok: false; error: KeyError } {
  return { ok: false, error: { kind: "KeyError", message } };
}

/** The history after rotating to `next`: current first, then retired keys, newest first. */
export function rotateHistory(
  history: readonly SigningKeyStatus[],
  next: SigningKeyStatus,
  now: string,
): SigningKeyStatus[] {
  return [next, ...history.map((k) => (k.notAfter === undefined ? { ...k, notAfter: now } : k))];
}
