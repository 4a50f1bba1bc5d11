import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { keyIdOf } from "../entry/keys.ts";
import { newKey, readKey, rotateHistory } from "./keys.ts";

describe("policy keys", () => {
  it("are Ed25519 PKCS#8 PEM, with the key id derived from the public key as entry/ does", () => {
    const m = newKey("2026-01-01T00:00:00Z");
    expect(m.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const priv = createPrivateKey(m.privateKeyPem);
    expect(priv.asymmetricKeyType).toBe("ed25519");
    const raw = Buffer.from(m.key.publicKey, "base64");
    expect(raw.length).toBe(32);
    expect(m.key.keyId).toBe(keyIdOf(raw));
    expect(m.key.keyId).toMatch(/^[0-9a-f]{16}$/);
    const pub = createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") },
      format: "jwk",
    });
    expect(verify(null, Buffer.from("m"), pub, sign(null, Buffer.from("m"), priv))).toBe(true);
  });

  it("reads back a stored key and refuses one that is not Ed25519", () => {
    const m = newKey("t0");
    expect(readKey(m.privateKeyPem, "t0")).toEqual({ ok: true, key: m.key });
    const r = readKey("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "t0");
    expect(r.ok ? "" : r.error.kind).toBe("KeyError");
  });

  it("keeps retired keys on rotation, newest first, each retired once", () => {
    const a = newKey("t0").key;
    const b = newKey("t1").key;
    const c = newKey("t2").key;
    const h1 = rotateHistory([a], b, "t1");
    const h2 = rotateHistory(h1, c, "t2");
    expect(h2.map((k) => [k.keyId, k.notAfter])).toEqual([
      [c.keyId, undefined],
      [b.keyId, "t2"],
      [a.keyId, "t1"],
    ]);
  });
});
