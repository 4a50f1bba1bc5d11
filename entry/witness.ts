// The witness topic's message: one per cosigned checkpoint, keyed by origin. The note (the log's
// checkpoint note with the witness's cosignature line, see cosignature.ts) is what counts; the
// other fields repeat it for people and tools reading the topic, and must agree with it.
import { type Checkpoint, parseNote } from "./checkpoint.ts";
import { type Cosignature, cosignNote, verifyCosignatures } from "./cosignature.ts";
import type { SigningKey } from "./keys.ts";

export interface CosignatureMessage {
  v: 1;
  type: "cosignature";
  origin: string;
  epoch: number;
  size: number;
  /** Root hash, base64. */
  root: string;
  /** The checkpoint's own time (its `time` line). */
  checkpointTime: string;
  /** When the witness cosigned it, unix seconds (also inside the signature). */
  time: number;
  witness: string;
  keyId: string;
  note: string;
}

/** A checkpoint a trusted witness cosigned: what `verify --witness` holds the topic to. */
export interface Witnessed {
  epoch: number;
  size: number;
  /** Root hash, base64. */
  root: string;
  checkpointTime: string;
  /** When it was cosigned, RFC 3339. */
  cosignedAt: string;
  witness: string;
}

export function cosignatureMessage(
  note: string,
  key: SigningKey,
  name: string,
  time: number,
): { key: string; value: Buffer; message: CosignatureMessage } {
  const cosigned = cosignNote(note, key, name, time);
  const c = parseNote(note).checkpoint;
  const message: CosignatureMessage = {
    v: 1,
    type: "cosignature",
    origin: c.origin,
    epoch: c.epoch,
    size: c.size,
    root: c.root.toString("base64"),
    checkpointTime: c.time,
    time,
    witness: name,
    keyId: key.keyId,
    note: cosigned,
  };
  return { key: c.origin, value: Buffer.from(JSON.stringify(message)), message };
}

export class WitnessMessageError extends Error {
  override readonly name = "WitnessMessageError";
}

/**
 * Reads one witness-topic message: its cosignature must verify with a trusted witness key and
 * its fields must agree with the note. Throws WitnessMessageError saying why not.
 */
export function readCosignature(
  value: Uint8Array,
  witnessKeys: readonly Buffer[],
): { origin: string; witnessed: Witnessed } {
  let m: Partial<CosignatureMessage>;
  try {
    m = JSON.parse(Buffer.from(value).toString("utf8"));
  } catch {
    throw new WitnessMessageError("not JSON");
  }
  if (m?.v !== 1 || m.type !== "cosignature" || typeof m.note !== "string")
    throw new WitnessMessageError("not a v1 cosignature message");
  let checkpoint: Checkpoint;
  let cosignatures: Cosignature[];
  try {
    const note = parseNote(m.note);
    checkpoint = note.checkpoint;
    const { valid } = verifyCosignatures(note, witnessKeys);
    cosignatures = valid;
  } catch (err) {
    throw new WitnessMessageError(`bad note: ${(err as Error).message}`);
  }
  const first = cosignatures[0];
  if (!first) throw new WitnessMessageError("no cosignature by a trusted witness key");
  const root = checkpoint.root.toString("base64");
  if (
    m.origin !== checkpoint.origin ||
    m.epoch !== checkpoint.epoch ||
    m.size !== checkpoint.size ||
    m.root !== root
  )
    throw new WitnessMessageError("its fields disagree with its cosigned note");
  return {
    origin: checkpoint.origin,
    witnessed: {
      epoch: checkpoint.epoch,
      size: checkpoint.size,
      root,
      checkpointTime: checkpoint.time,
      cosignedAt: new Date(first.time * 1000).toISOString(),
      witness: first.name,
    },
  };
}

/**
 * Keeps, per origin and epoch, the largest cosigned checkpoint: a split view or a dropped tail
 * anywhere before it changes the root at that size, so it is the one worth holding the topic
 * to, and memory stays one entry per epoch seen.
 */
export class WitnessedBook {
  readonly byOrigin = new Map<string, Witnessed[]>();

  add(origin: string, w: Witnessed): void {
    const list = this.byOrigin.get(origin) ?? [];
    const i = list.findIndex((x) => x.epoch === w.epoch);
    if (i < 0) list.push(w);
    else if ((list[i] as Witnessed).size < w.size) list[i] = w;
    this.byOrigin.set(origin, list);
  }
}
