// Signed checkpoints in the shape of a C2SP signed note (c2sp.org/signed-note and
// c2sp.org/tlog-checkpoint): origin line, tree size, base64 root hash, then extension lines
// (`epoch`, `time`), a blank line, and one signature line per key:
//   — <key name> base64(4-byte key hash || Ed25519 signature over the note body)
// The key name is "auditready:<key id>", so a verifier finds the key without trusting the note.
import { createHash } from "node:crypto";
import { keyIdOf, type SigningKey, signBytes, verifyBytes } from "./keys.ts";

export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
  epoch: number;
  /** RFC 3339 UTC with milliseconds: when the sidecar signed it. */
  time: string;
}

export interface NoteSignature {
  name: string;
  keyHash: Buffer;
  signature: Buffer;
}

export interface ParsedNote {
  checkpoint: Checkpoint;
  body: string;
  signatures: NoteSignature[];
}

export class NoteError extends Error {
  override readonly name = "NoteError";
}

const EM_DASH = "\u2014";

export function keyName(keyId: string): string {
  return `auditready:${keyId}`;
}

// Key hashes are asked for on every checkpoint (per record in per-entry mode) for the same few
// keys; they depend only on the name and the public key, so they are remembered per key.
const keyHashes = new WeakMap<Uint8Array, { name: string; hash: Buffer }>();

/** C2SP key hash: SHA-256(name || "\n" || 0x01 || public key)[:4]. */
export function noteKeyHash(name: string, publicKey: Uint8Array): Buffer {
  const known = keyHashes.get(publicKey);
  if (known?.name === name) return known.hash;
  const hash = createHash("sha256")
    .update(`${name}\n`)
    .update(Buffer.from([1]))
    .update(publicKey)
    .digest()
    .subarray(0, 4);
  // Keyed on the key's object: keys are never changed in place. A stale entry could only make a
  // signature look invalid, never valid: the signature itself is always checked.
  keyHashes.set(publicKey, { name, hash });
  return hash;
}

const LINE_BREAK = /[\n\r]/;

function checkOrigin(origin: string): void {
  if (origin.length === 0 || LINE_BREAK.test(origin))
    throw new NoteError("origin must be one non-empty line");
}

/** The note body: the one spelling signNote and NoteSigner sign. */
function bodyText(origin: string, size: number, rootBase64: string, epoch: number, time: string) {
  return `${origin}\n${size}\n${rootBase64}\nepoch ${epoch}\ntime ${time}\n`;
}

export function noteBody(c: Checkpoint): string {
  checkOrigin(c.origin);
  return bodyText(c.origin, c.size, c.root.toString("base64"), c.epoch, c.time);
}

export function signNote(c: Checkpoint, keys: readonly SigningKey[]): string {
  const body = noteBody(c);
  const bytes = Buffer.from(body);
  let lines = "";
  for (const k of keys) {
    const name = keyName(k.keyId);
    const blob = Buffer.allocUnsafe(68);
    noteKeyHash(name, k.publicKey).copy(blob, 0);
    signBytes(k, bytes).copy(blob, 4);
    lines += `${EM_DASH} ${name} ${blob.toString("base64")}\n`;
  }
  return `${body}\n${lines}`;
}

// The note body is encoded here for signing: one buffer reused, no Buffer per note.
let bodyBytes = Buffer.allocUnsafeSlow(1024);

/**
 * signNote for one origin and one key, with what stays the same from note to note (the key
 * name, its key hash, the signature line's start) worked out once: the sealer signs a note per
 * checkpoint, so per record in per-entry mode. A unit test holds it equal to signNote.
 */
export class NoteSigner {
  readonly origin: string;
  readonly key: SigningKey;
  /** `— <key name> `: what the signature line holds before the base64 blob. */
  readonly linePrefix: string;
  /** The 4-byte key hash, then room for the 64-byte signature. */
  private readonly blob = Buffer.alloc(68);

  constructor(origin: string, key: SigningKey) {
    checkOrigin(origin);
    this.origin = origin;
    this.key = key;
    const name = keyName(key.keyId);
    this.linePrefix = `${EM_DASH} ${name} `;
    noteKeyHash(name, key.publicKey).copy(this.blob, 0);
  }

  /**
   * Signs the note of a checkpoint whose root is given in base64. Returns the body and the
   * signature line's base64 blob: the note is `${body}\n${linePrefix}${signature}\n`.
   */
  sign(
    size: number,
    rootBase64: string,
    epoch: number,
    time: string,
  ): { body: string; signature: string } {
    const body = bodyText(this.origin, size, rootBase64, epoch, time);
    if (bodyBytes.length < 3 * body.length) bodyBytes = Buffer.allocUnsafeSlow(3 * body.length);
    const n = bodyBytes.write(body, 0, "utf8");
    signBytes(this.key, bodyBytes.subarray(0, n)).copy(this.blob, 4);
    return { body, signature: this.blob.toString("base64") };
  }
}

const SIGNATURE_LINE = new RegExp(`^${EM_DASH} (\\S+) ([A-Za-z0-9+/=]+)$`);
const SIZE = /^(0|[1-9]\d{0,15})$/;
const EPOCH_LINE = /^epoch (0|[1-9]\d{0,15})$/;
const TIME_LINE = /^time (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)$/;

export function parseNote(text: string): ParsedNote {
  const split = text.indexOf("\n\n");
  if (split < 0) throw new NoteError("no blank line between body and signatures");
  const body = text.slice(0, split + 1);
  const lines = body.slice(0, -1).split("\n");
  const [origin, sizeText, rootText, epochLine, timeLine, ...rest] = lines;
  if (!origin || !sizeText || !rootText || !epochLine || !timeLine || rest.length > 0) {
    throw new NoteError("body must be origin, size, root, epoch and time lines");
  }
  if (!SIZE.test(sizeText)) throw new NoteError(`bad size ${JSON.stringify(sizeText)}`);
  const root = Buffer.from(rootText, "base64");
  if (root.length !== 32 || root.toString("base64") !== rootText)
    throw new NoteError("bad root hash");
  const epoch = EPOCH_LINE.exec(epochLine)?.[1];
  const time = TIME_LINE.exec(timeLine)?.[1];
  if (epoch === undefined || time === undefined) throw new NoteError("bad epoch or time line");
  // Sixteen digits can exceed 2^53: such a size or epoch has no exact number.
  if (!Number.isSafeInteger(Number(sizeText)) || !Number.isSafeInteger(Number(epoch)))
    throw new NoteError("size or epoch beyond 2^53 - 1");
  const sigText = text.slice(split + 2);
  if (!sigText.endsWith("\n")) throw new NoteError("signature block must end with a newline");
  const signatures = sigText
    .slice(0, -1)
    .split("\n")
    .map((line) => {
      const m = SIGNATURE_LINE.exec(line);
      if (!m) throw new NoteError(`bad signature line ${JSON.stringify(line.slice(0, 80))}`);
      const blob = Buffer.from(m[2] as string, "base64");
      // Only one spelling per signature: unused bits or missing padding would let the note's
      // bytes change while the signature still verifies.
      if (blob.toString("base64") !== m[2])
        throw new NoteError("signature is not canonical base64");
      if (blob.length < 5) throw new NoteError("signature too short");
      return { name: m[1] as string, keyHash: blob.subarray(0, 4), signature: blob.subarray(4) };
    });
  if (signatures.length === 0) throw new NoteError("no signatures");
  return {
    checkpoint: { origin, size: Number(sizeText), root, epoch: Number(epoch), time },
    body,
    signatures,
  };
}

// Like the key hashes above: the verifier asks for the same few keys' ids on every checkpoint.
const keyIds = new WeakMap<Uint8Array, string>();

function keyIdOfCached(pub: Buffer): string {
  let id = keyIds.get(pub);
  if (id === undefined) {
    id = keyIdOf(pub);
    keyIds.set(pub, id);
  }
  return id;
}

/** The key ids among `candidates` whose valid signature the note carries. */
export function verifyNoteSignatures(
  note: ParsedNote,
  candidates: ReadonlyMap<string, Buffer>,
): {
  valid: string[];
  invalid: string[];
  unknown: string[];
} {
  const valid: string[] = [];
  const invalid: string[] = [];
  const unknown: string[] = [];
  const body = Buffer.from(note.body);
  for (const s of note.signatures) {
    const keyId = s.name.startsWith("auditready:") ? s.name.slice("auditready:".length) : "";
    const pub = candidates.get(keyId);
    if (!pub || keyIdOfCached(pub) !== keyId) {
      unknown.push(s.name);
      continue;
    }
    const ok = s.keyHash.equals(noteKeyHash(s.name, pub)) && verifyBytes(pub, body, s.signature);
    (ok ? valid : invalid).push(keyId);
  }
  return { valid, invalid, unknown };
}
