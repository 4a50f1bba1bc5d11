// Ed25519 keys: the long-term policy key (made by the operator, kept in a Secret) and the fresh
// per-epoch keys it certifies. A key is named by its key id, derived from the public key alone,
// so a verifier can match a signature to a trusted key without trusting anything else.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";

export interface SigningKey {
  keyId: string;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Buffer;
  privateKey: KeyObject;
}

export interface PublicKey {
  keyId: string;
  publicKey: Buffer;
}

/** First 8 bytes of SHA-256(0x01 || raw public key), hex: 0x01 is Ed25519's C2SP type byte. */
export function keyIdOf(publicKey: Uint8Array): string {
  return createHash("sha256")
    .update(Buffer.from([1]))
    .update(publicKey)
    .digest()
    .subarray(0, 8)
    .toString("hex");
}

export function generateSigningKey(): SigningKey {
  const { privateKey } = generateKeyPairSync("ed25519");
  return signingKeyFrom(privateKey);
}

export function signingKeyFrom(privateKey: KeyObject): SigningKey {
  if (privateKey.asymmetricKeyType !== "ed25519") {
    throw new Error(
      `expected an Ed25519 private key, got ${privateKey.asymmetricKeyType ?? privateKey.type}`,
    );
  }
  const publicKey = rawPublicKey(createPublicKey(privateKey));
  return { keyId: keyIdOf(publicKey), publicKey, privateKey };
}

/** Reads a PKCS#8 PEM Ed25519 private key (the policy key Secret's `policy.key`). */
export function signingKeyFromPem(pem: string): SigningKey {
  return signingKeyFrom(createPrivateKey({ key: pem, format: "pem" }));
}

export function privateKeyPem(key: SigningKey): string {
  return key.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}

export function publicKeyFrom(raw: Buffer): PublicKey {
  if (raw.length !== 32) throw new Error(`an Ed25519 public key is 32 bytes, got ${raw.length}`);
  return { keyId: keyIdOf(raw), publicKey: raw };
}

function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: "jwk" });
  return Buffer.from(jwk.x as string, "base64url");
}

const keyObjects = new Map<string, KeyObject>();

function publicKeyObject(raw: Buffer): KeyObject {
  const id = raw.toString("base64");
  let key = keyObjects.get(id);
  if (!key) {
    key = createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") },
      format: "jwk",
    });
    keyObjects.set(id, key);
  }
  return key;
}

export function signBytes(key: SigningKey, message: Uint8Array): Buffer {
  return sign(null, message, key.privateKey);
}

export function verifyBytes(
  publicKey: Buffer,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (signature.length !== 64) return false;
  return verify(null, message, publicKeyObject(publicKey), signature);
}
