// Witness cosignatures in the shape of c2sp.org/tlog-cosignature (Ed25519, cosignature/v1): a
// note signature line added to a checkpoint note,
//   — <witness name> base64(key ID || u64 big-endian unix seconds || Ed25519 signature)
// key ID = SHA-256(<name> || "\n" || 0x04 || public key)[:4], over the message
//   "cosignature/v1\ntime <unix seconds>\n" || the checkpoint's whole note body
// (our body carries the `epoch` and `time` extension lines, so they are signed too). It says: as
// of that time, this is the largest consistent tree the witness verified for the origin.
import { createHash } from "node:crypto";
import { type ParsedNote, parseNote } from "./checkpoint.ts";
import { keyIdOf, type SigningKey, signBytes, verifyBytes } from "./keys.ts";

const EM_DASH = "\u2014";
/** Ed25519 cosignature/v1's key type byte (0x01 is a plain note signature). */
const COSIGNATURE_V1 = 0x04;

export function cosignatureKeyHash(name: string, publicKey: Uint8Array): Buffer {
  return createHash("sha256")
    .update(`${name}\n`)
    .update(Buffer.from([COSIGNATURE_V1]))
    .update(publicKey)
    .digest()
    .subarray(0, 4);
}

/** The exact bytes a witness signs for a note body at `time` (unix seconds). */
export function cosignedMessage(body: string, time: number): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${time}\n${body}`);
}

/** The witness's name when none is given: one name per key, as the spec asks. */
export function defaultWitnessName(key: { publicKey: Uint8Array }): string {
  return `auditready-witness/${keyIdOf(key.publicKey)}`;
}

/** Returns `note` with the witness's cosignature line appended. */
export function cosignNote(note: string, key: SigningKey, name: string, time: number): string {
  if (!Number.isSafeInteger(time) || time < 0) throw new Error(`bad cosignature time ${time}`);
  if (/\s/.test(name) || name.length === 0) throw new Error("a witness name is one word");
  const { body } = parseNote(note);
  const blob = Buffer.alloc(76);
  cosignatureKeyHash(name, key.publicKey).copy(blob, 0);
  blob.writeBigUInt64BE(BigInt(time), 4);
  signBytes(key, cosignedMessage(body, time)).copy(blob, 12);
  return `${note}${EM_DASH} ${name} ${blob.toString("base64")}\n`;
}

export interface Cosignature {
  /** Key id (keys.ts) of the witness key that signed. */
  keyId: string;
  name: string;
  /** Unix seconds. */
  time: number;
}

/**
 * The cosignatures on a note that verify with one of `witnessKeys` (raw Ed25519 public keys).
 * Lines of other keys, the log's own signatures among them, are not cosignatures and are
 * skipped; a line whose key ID matches a witness key but whose signature fails is `invalid`.
 */
export function verifyCosignatures(
  note: ParsedNote,
  witnessKeys: readonly Buffer[],
): { valid: Cosignature[]; invalid: string[] } {
  const valid: Cosignature[] = [];
  const invalid: string[] = [];
  for (const s of note.signatures) {
    for (const pub of witnessKeys) {
      if (!s.keyHash.equals(cosignatureKeyHash(s.name, pub))) continue;
      if (s.signature.length !== 72) {
        invalid.push(s.name);
        continue;
      }
      const time = s.signature.readBigUInt64BE(0);
      const ok =
        time <= BigInt(Number.MAX_SAFE_INTEGER) &&
        verifyBytes(pub, cosignedMessage(note.body, Number(time)), s.signature.subarray(8));
      if (ok) valid.push({ keyId: keyIdOf(pub), name: s.name, time: Number(time) });
      else invalid.push(s.name);
    }
  }
  return { valid, invalid };
}
