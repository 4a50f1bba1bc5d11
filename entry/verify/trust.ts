// What the verifier trusts, and only that: policy public keys given by the operator of the
// verifier (a file, a Secret or a ConfigMap), and its own state from earlier runs. Nothing read
// from the store (proofs, ranges, certificates) is trusted before it checks out against these.
import { z } from "zod";
import { KeyCert } from "../record.ts";

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, "base64");
const time = z.iso.datetime({ offset: true });

export const TrustedKey = z
  .object({
    keyId: z
      .string()
      .regex(/^[0-9a-f]{16}$/)
      .optional()
      .describe("Checked against the key when given."),
    publicKey: b64.describe("Raw 32-byte Ed25519 public key, base64."),
    notBefore: time.optional(),
    notAfter: time.optional().describe("Set when the key was retired."),
  })
  .describe("Same shape as the keys on an AuditPolicy's status; other fields are ignored.");
export type TrustedKey = z.infer<typeof TrustedKey>;

/** A trusted-keys document: `{"keys": [...]}` or a bare array (the operator's keys.json). */
export const TrustedKeysFile = z.union([
  z.object({ keys: z.array(TrustedKey).min(1) }).transform((f) => f.keys),
  z.array(TrustedKey).min(1),
]);

export const TrustedTree = z
  .object({
    genesis: z.number().int().min(0),
    epoch: z.number().int().min(0),
    size: z.number().int().min(0),
    root: b64,
    range: z.array(b64),
    checkpointTime: z.string(),
    ended: z.boolean(),
    keyId: z.string().describe("The epoch key current after the verified size."),
    keys: z.record(z.string(), b64).describe("Epoch keys seen, by key id."),
    certs: z
      .array(KeyCert)
      .optional()
      .describe(
        "Certificates of the current key, checked again each run: retention may remove their messages.",
      ),
  })
  .strict();
export type TrustedTree = z.infer<typeof TrustedTree>;

export const TrustedState = z
  .object({
    v: z.literal(1),
    updated: z.string(),
    origins: z.record(z.string(), z.object({ trees: z.array(TrustedTree) }).strict()),
  })
  .strict();
export type TrustedState = z.infer<typeof TrustedState>;

export function emptyTrustedState(): TrustedState {
  return { v: 1, updated: new Date(0).toISOString(), origins: {} };
}
