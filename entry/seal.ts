// The sealer of one stream (one origin): turns events into leaf records, keeps the Merkle tree's
// compact range and the hash chain, and emits a signed checkpoint every N records or T ms, a
// heartbeat when idle, key rotations and epoch boundaries. Pure: the clock and key generation
// are injected, the caller publishes what it emits and persists `state()` once the checkpoint
// that state belongs to is acknowledged.
import { canonicalBytes } from "./canonical.ts";
import { NoteSigner } from "./checkpoint.ts";
import { logLeafBytes } from "./event-bytes.ts";
import type { SigningKey } from "./keys.ts";
import {
  CompactRange,
  type Digest,
  digestBase64,
  digestHex,
  leafDigest,
  leafDigestPrefixed,
} from "./merkle.ts";
import { type AuditEvent, type EpochKey, HEX64 } from "./record.ts";

export interface SealPolicy {
  /** Checkpoint after this many leaves (1 = a signature per record). */
  entries: number;
  /** ...or when the oldest unsealed leaf is this old. */
  millis: number;
  /** Heartbeat leaf + checkpoint after this long without one. */
  heartbeatMs: number;
}

export interface SealerOptions {
  origin: string;
  /**
   * The epoch key: made in memory by the caller (one per sidecar process may serve all its
   * streams), certified by the operator in `key-cert` messages the caller publishes.
   */
  key: SigningKey;
  seal: SealPolicy;
  /** Milliseconds since the Unix epoch. */
  now: () => number;
}

/** What the caller persists after the checkpoint it names was acknowledged. */
export interface StreamState {
  v: 1;
  origin: string;
  epoch: number;
  range: { size: number; hashes: string[] };
  prev: string | null;
  checkpoint: string;
}

export interface Emitted {
  kind: "leaf" | "checkpoint" | "key-cert";
  type: string;
  /** The Kafka key: the stream's origin. */
  key: string;
  value: Buffer;
  /** Leaf index for leaves; tree size for checkpoints. */
  seq: number;
}

export type GapInfo = {
  reason:
    | "truncated"
    | "inode-reused"
    | "deleted-unread"
    | "spool-overflow"
    | "line-unreadable"
    | "file-unreadable";
  file: string;
  lostFrom: number;
  lostTo: number;
  detail?: string;
};

export class SealerClosedError extends Error {
  override readonly name = "SealerClosedError";
}

// Checkpoint times repeat their second many times over (per record in per-entry mode): the
// ISO text of the last second is kept and only the milliseconds are written.
let isoSecond = Number.NaN;
let isoPrefix = "";
function iso(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    const text = new Date(ms).toISOString();
    // Years outside 0000..9999 have a longer form: no memo for them.
    if (text.length !== 24) return text;
    isoSecond = second;
    isoPrefix = text.slice(0, 20);
  }
  return `${isoPrefix}${String(ms - second * 1000).padStart(3, "0")}Z`;
}
const RANGE_EVERY = 1_000;

function epochKey(key: SigningKey): EpochKey {
  return { keyId: key.keyId, key: key.publicKey.toString("base64") };
}

export class StreamSealer {
  readonly origin: string;
  readonly epoch: number;
  private readonly opts: SealerOptions;
  private readonly range: CompactRange;
  private prev: string | null;
  private key: SigningKey;
  private signer: NoteSigner;
  /** The checkpoint message's fixed text, when the origin needs no JSON escaping. */
  private readonly plain: { head: string; origin: string } | undefined;
  /** The signature line's start as latin1 text of its UTF-8 bytes (see checkpoint()). */
  private linePrefixBytes: string | undefined;
  private pending = 0;
  private pendingSince = 0;
  private lastCheckpointAt = 0;
  /** What the last checkpoint sealed; `state()` encodes it when asked, once. */
  private sealed: { size: number; digests: Digest[]; prev: string | null; note: string };
  private saved: StreamState | null;
  private closed = false;
  private lastRangeSize = -1;

  private constructor(opts: SealerOptions, saved: StreamState | null) {
    if (/[\n\r]/.test(opts.origin)) throw new Error("origin must be a single line");
    if (saved && saved.origin !== opts.origin) {
      throw new Error(`saved state is for ${saved.origin}, not ${opts.origin}`);
    }
    this.opts = opts;
    this.origin = opts.origin;
    // Linked epochs count up; an unlinked one (no saved state) takes the time in ms, so it
    // still sorts after any epoch this stream had before its state was lost.
    this.epoch = saved ? saved.epoch + 1 : opts.now();
    this.range = saved ? CompactRange.fromJSON(saved.range) : new CompactRange();
    this.prev = saved?.prev ?? null;
    // The record writer quotes prev without escaping: it must be what this sealer writes.
    if (this.prev !== null && !HEX64.test(this.prev))
      throw new Error("saved state: prev is not a 64-digit lowercase hex hash");
    this.key = opts.key;
    this.signer = new NoteSigner(this.origin, this.key);
    this.linePrefixBytes = plainLine(this.signer);
    this.plain = PLAIN_ASCII.test(this.origin)
      ? {
          head: `{"epoch":${this.epoch},"note":"${this.origin}\\n`,
          origin: `\\n","origin":"${this.origin}",`,
        }
      : undefined;
    this.saved = saved;
    this.sealed = this.snapshot(saved?.checkpoint ?? "");
  }

  /**
   * Starts an epoch: continues the tree of `saved` (linking to its checkpoint) or starts a new
   * one. Returns the sealer and what to publish first: `epoch-start` and its checkpoint.
   */
  static open(
    opts: SealerOptions,
    saved: StreamState | null,
  ): { sealer: StreamSealer; out: Emitted[] } {
    const sealer = new StreamSealer(opts, saved);
    const out = [
      sealer.leaf("epoch-start", {
        time: iso(opts.now()),
        key: epochKey(sealer.key),
        heartbeatMs: opts.seal.heartbeatMs,
        link: saved ? { epoch: saved.epoch, checkpoint: saved.checkpoint } : null,
      }),
      sealer.checkpoint(),
    ];
    return { sealer, out };
  }

  get size(): number {
    return this.range.size;
  }

  get keyId(): string {
    return this.key.keyId;
  }

  /** A `log` leaf, and a checkpoint when the entry count is reached. */
  appendLog(event: AuditEvent): Emitted[] {
    if (this.closed)
      throw new SealerClosedError(`stream ${this.origin} epoch ${this.epoch} has ended`);
    const seq = this.range.size;
    // Encode once with the leaf prefix byte in front: the hash input and the message share it.
    const prefixed = logLeafBytes(this.origin, this.epoch, seq, this.prev, event, true);
    return this.afterLeaf([
      this.append("log", seq, prefixed.subarray(1), leafDigestPrefixed(prefixed)),
    ]);
  }

  /** A signed statement that data was lost, and why. Sealed at once: loss is news. */
  appendGap(gap: GapInfo): Emitted[] {
    return [this.leaf("gap", { time: iso(this.opts.now()), ...gap }), this.checkpoint()];
  }

  /** Call regularly: seals by age and writes heartbeats when idle. */
  tick(): Emitted[] {
    const now = this.opts.now();
    if (this.closed) return [];
    if (this.pending > 0 && now - this.pendingSince >= this.opts.seal.millis)
      return [this.checkpoint()];
    if (this.pending === 0 && now - this.lastCheckpointAt >= this.opts.seal.heartbeatMs) {
      return [this.leaf("heartbeat", { time: iso(now) }), this.checkpoint()];
    }
    return [];
  }

  /** Seals whatever is pending now (before a planned stop, or when asked). */
  flush(): Emitted[] {
    return this.pending > 0 ? [this.checkpoint()] : [];
  }

  /**
   * Rotates the epoch key: the `key-rotate` leaf and everything before it are sealed with the
   * old key; leaves after it belong to `next`, which needs a certificate of its own.
   */
  rotateKey(next: SigningKey): Emitted[] {
    const out = [
      this.leaf("key-rotate", { time: iso(this.opts.now()), key: epochKey(next) }),
      this.checkpoint(),
    ];
    this.key = next;
    this.signer = new NoteSigner(this.origin, next);
    this.linePrefixBytes = plainLine(this.signer);
    return out;
  }

  /** Ends the epoch cleanly: `epoch-end` and a final checkpoint. The sealer is closed after. */
  end(reason: string): Emitted[] {
    const out = [this.leaf("epoch-end", { time: iso(this.opts.now()), reason }), this.checkpoint()];
    this.closed = true;
    return out;
  }

  /** The state as of the last checkpoint: persist it once that checkpoint is acknowledged. */
  state(): StreamState {
    const { size, digests, prev, note } = this.sealed;
    this.saved ??= {
      v: 1,
      origin: this.origin,
      epoch: this.epoch,
      range: { size, hashes: digests.map(digestBase64) },
      prev,
      checkpoint: note,
    };
    return this.saved;
  }

  private snapshot(note: string): StreamSealer["sealed"] {
    return { size: this.range.size, digests: [...this.range.digests], prev: this.prev, note };
  }

  private afterLeaf(out: Emitted[]): Emitted[] {
    if (this.pending >= this.opts.seal.entries) out.push(this.checkpoint());
    return out;
  }

  private leaf(type: string, body: Record<string, unknown>): Emitted {
    if (this.closed)
      throw new SealerClosedError(`stream ${this.origin} epoch ${this.epoch} has ended`);
    const seq = this.range.size;
    const value = canonicalBytes({
      v: 1,
      origin: this.origin,
      epoch: this.epoch,
      seq,
      prev: this.prev,
      type,
      ...body,
    });
    return this.append(type, seq, value);
  }

  private append(type: string, seq: number, value: Buffer, d: Digest = leafDigest(value)): Emitted {
    this.range.appendDigest(d);
    this.prev = digestHex(d);
    if (this.pending++ === 0) this.pendingSince = this.opts.now();
    return { kind: "leaf", type, key: this.origin, value, seq };
  }

  private checkpoint(): Emitted {
    const now = this.opts.now();
    const size = this.range.size;
    const root = digestBase64(this.range.rootDigest());
    const time = iso(now);
    const { body, signature } = this.signer.sign(size, root, this.epoch, time);
    const note = `${body}\n${this.signer.linePrefix}${signature}\n`;
    // The compact range costs log2(size) hashes: carry it now and then, not in every checkpoint.
    const withRange = this.lastRangeSize < 0 || size - this.lastRangeSize >= RANGE_EVERY;
    if (withRange) this.lastRangeSize = size;
    this.pending = 0;
    this.lastCheckpointAt = now;
    this.sealed = this.snapshot(note);
    this.saved = null;
    const range = withRange ? this.range : undefined;
    // With an origin that needs no escaping, the message is written from the note's parts: the
    // note's JSON string is its text with each line break as \n, and the em dash goes in as
    // the latin1 text of its UTF-8 bytes, so the whole message is one-byte text written as is
    // (a note holding U+2014 would be two-byte text, slower to stringify and to encode).
    const value =
      this.plain && this.linePrefixBytes !== undefined
        ? Buffer.from(
            `${this.plain.head}${size}\\n${root}\\nepoch ${this.epoch}\\ntime ${time}\\n\\n${this.linePrefixBytes}${signature}${this.plain.origin}${rangeMember(range)}"type":"checkpoint","v":1}`,
            "latin1",
          )
        : checkpointBytes(this.origin, this.epoch, note, range);
    return { kind: "checkpoint", type: "checkpoint", key: this.origin, value, seq: size };
  }
}

/** Printable ASCII without `"` and `\`: text JSON writes as it is. */
const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** The signature line's start (`— <key name> `) as latin1 text of its UTF-8 bytes, if the key name needs no escaping. */
function plainLine(signer: NoteSigner): string | undefined {
  const prefix = signer.linePrefix;
  return PLAIN_ASCII.test(prefix.slice(1))
    ? Buffer.from(prefix, "utf8").toString("latin1")
    : undefined;
}

/** `"range":{…},` in JCS order, or nothing. */
function rangeMember(range: CompactRange | undefined): string {
  return range
    ? `"range":{"hashes":[${range.digests.map((d) => `"${digestBase64(d)}"`).join(",")}],"size":${range.size}},`
    : "";
}

/**
 * The canonical bytes of a checkpoint message, written in JCS key order (epoch, note, origin,
 * range, type, v): in per-entry mode this runs once per record. A unit test holds it equal to
 * canonicalBytes() of the same message.
 */
export function checkpointBytes(
  origin: string,
  epoch: number,
  note: string,
  range?: CompactRange,
): Buffer {
  return Buffer.from(
    `{"epoch":${epoch},"note":${JSON.stringify(note)},"origin":${JSON.stringify(origin)},${rangeMember(range)}"type":"checkpoint","v":1}`,
  );
}
