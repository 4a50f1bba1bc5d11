// What the verifier keeps of each leaf record until its stream is checked, as columns: typed
// arrays and flat byte buffers, not an object per record. A topic can hold tens of millions of
// records; as objects (a LeafFact, its hash, position and line-hash strings) each cost ~360 heap
// bytes and every one was traced by each garbage collection. Here a log record costs ~110 bytes
// outside the heap. The rare other leaves (epoch-start, key-rotate, gap, ...) keep their extra
// fields in a side map. `fact(i)` gives the object view, for tests and rare paths.
import type { Digest } from "../merkle.ts";
import type { EpochKey, LeafType } from "../record.ts";

/** The fields only non-log leaves have. */
export interface LeafExtras {
  /** epoch-start / key-rotate: the key that seals the leaves after it. */
  key?: EpochKey;
  heartbeatMs?: number;
  link?: { epoch: number; checkpoint: string } | null;
  time?: string;
  gap?: { reason: string; file: string; lostFrom: number; lostTo: number };
}

/** One leaf as an object: what the table holds for it. */
export interface LeafFact extends LeafExtras {
  seq: number;
  epoch: number;
  type: LeafType;
  /** The leaf hash (latin1 digest string). */
  hash: Digest;
  /** The record's prev (hex), or null. */
  prev: string | null;
  position: string;
  /** log: where the line came from, to recognise a source read twice (see sourceKey). */
  file?: string;
  offset?: number;
  lineHash?: string;
  /** log: the record's `event.k8s` as its canonical JSON text. */
  identity?: string;
}

/** The source of a log record's line (file, offset, line hash), or undefined for other leaves. */
export function sourceKey(l: LeafFact): string | undefined {
  return l.lineHash === undefined ? undefined : sourceKeyOf(l.file, l.offset, l.lineHash);
}

const sourceKeyOf = (file: string | undefined, offset: number | undefined, lineHash: string) =>
  `${file}\u0000${offset}\u0000${lineHash}`;

const TYPES: readonly LeafType[] = [
  "log",
  "epoch-start",
  "heartbeat",
  "key-rotate",
  "epoch-end",
  "gap",
];
const TYPE_CODE = new Map(TYPES.map((t, i) => [t, i] as const));
export const LOG = 0;
export const EPOCH_START = 1;
export const KEY_ROTATE = 3;
export const EPOCH_END = 4;
export const GAP = 5;

// How a leaf's prev is kept: most records name the hash of the leaf that arrived just before
// them in the same stream, so that is one flag, not a 64-character string.
const PREV_NULL = 0;
const PREV_BEFORE = 1;
const PREV_OTHER = 2;

// Positions ("line N", "partition P offset O") are kept as numbers when they spell back exactly.
const POS_TEXT = 0;
const POS_LINE = 1;
const POS_PARTITION = 2;

const HEX_VALUE = new Int8Array(128).fill(-1);
for (let d = 0; d < 10; d++) HEX_VALUE[0x30 + d] = d;
for (let d = 0; d < 6; d++) HEX_VALUE[0x61 + d] = 10 + d;

/** Decimal digits without a leading zero (or "0"), up to 15 of them: exact as a double. */
function digitsValue(s: string, from: number, to: number): number {
  const len = to - from;
  if (len < 1 || len > 15 || (len > 1 && s.charCodeAt(from) === 0x30)) return -1;
  let v = 0;
  for (let k = from; k < to; k++) {
    const c = s.charCodeAt(k) - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

export class LeafTable {
  length = 0;
  private capacity = 0;
  private seqs = new Float64Array(0);
  private epochs = new Float64Array(0);
  private types = new Uint8Array(0);
  private prevKinds = new Uint8Array(0);
  private hashes = Buffer.alloc(0);
  private fileIds = new Int32Array(0);
  private offsets = new Float64Array(0);
  private lineHashes = Buffer.alloc(0);
  private identityIds = new Int32Array(0);
  private posKinds = new Uint8Array(0);
  private posParts = new Int32Array(0);
  private posNums = new Float64Array(0);
  /** Positions of any other spelling; posNums holds the index. */
  private readonly posTexts: string[] = [];
  private readonly prevTexts = new Map<number, string>();
  private readonly extras = new Map<number, LeafExtras>();
  private readonly files: string[] = [];
  private readonly fileIndex = new Map<string, number>();
  private lastFile: string | null = null;
  private lastFileId = -1;
  // A stream's records name the same pod (`event.k8s`) over and over: each distinct text once.
  private readonly identities: string[] = [];
  private readonly identityIndex = new Map<string, number>();
  private lastIdentity: string | null = null;
  private lastIdentityId = -1;

  private grow(): void {
    // Small to start (a topic can hold thousands of streams), doubling, then by half once
    // large (less unused capacity in a stream of millions).
    const cap = Math.max(
      16,
      this.capacity < 1 << 20 ? this.capacity * 2 : Math.ceil(this.capacity * 1.5),
    );
    const f64 = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    const u8 = (a: Uint8Array) => {
      const b = new Uint8Array(cap);
      b.set(a);
      return b;
    };
    const i32 = (a: Int32Array) => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    const bytes = (a: Buffer) => {
      const b = Buffer.allocUnsafeSlow(cap * 32);
      a.copy(b);
      return b;
    };
    this.seqs = f64(this.seqs);
    this.epochs = f64(this.epochs);
    this.types = u8(this.types);
    this.prevKinds = u8(this.prevKinds);
    this.hashes = bytes(this.hashes);
    this.fileIds = i32(this.fileIds);
    this.offsets = f64(this.offsets);
    this.lineHashes = bytes(this.lineHashes);
    this.identityIds = i32(this.identityIds);
    this.posKinds = u8(this.posKinds);
    this.posParts = i32(this.posParts);
    this.posNums = f64(this.posNums);
    this.capacity = cap;
  }

  /**
   * Adds a leaf. `hash` is its digest; `prev` is compared with the hash of the leaf added just
   * before, and kept as a flag when it names it.
   */
  push(
    seq: number,
    epoch: number,
    type: LeafType,
    hash: Digest,
    prev: string | null,
    position: string,
  ): number {
    const i = this.length;
    if (i === this.capacity) this.grow();
    this.seqs[i] = seq;
    this.epochs[i] = epoch;
    this.types[i] = TYPE_CODE.get(type) as number;
    this.hashes.write(hash, i * 32, 32, "latin1");
    if (prev === null) this.prevKinds[i] = PREV_NULL;
    else if (i > 0 && this.hexIsHash(prev, i - 1)) this.prevKinds[i] = PREV_BEFORE;
    else {
      this.prevKinds[i] = PREV_OTHER;
      this.prevTexts.set(i, prev);
    }
    this.fileIds[i] = -1;
    this.identityIds[i] = -1;
    this.setPosition(i, position);
    this.length = i + 1;
    return i;
  }

  /**
   * Sets where a log leaf's line came from (`lineHash` is lowercase hex, the schema's) and the
   * pod it names: `identity` is the canonical JSON text of its `event.k8s`.
   */
  setSource(i: number, file: string, offset: number, lineHash: string, identity: string): void {
    let id = this.lastFileId;
    if (file !== this.lastFile) {
      id = this.fileIndex.get(file) ?? -1;
      if (id < 0) {
        id = this.files.length;
        this.files.push(file);
        this.fileIndex.set(file, id);
      }
      this.lastFile = file;
      this.lastFileId = id;
    }
    this.fileIds[i] = id;
    this.offsets[i] = offset;
    this.lineHashes.write(lineHash, i * 32, 32, "hex");
    let who = this.lastIdentityId;
    if (identity !== this.lastIdentity) {
      who = this.identityIndex.get(identity) ?? -1;
      if (who < 0) {
        who = this.identities.length;
        this.identities.push(identity);
        this.identityIndex.set(identity, who);
      }
      this.lastIdentity = identity;
      this.lastIdentityId = who;
    }
    this.identityIds[i] = who;
  }

  /** A log leaf's identity number (see identityText), or -1 for other leaves. */
  identityAt(i: number): number {
    return this.identityIds[i] as number;
  }

  identityText(id: number): string {
    return this.identities[id] as string;
  }

  setExtras(i: number, extras: LeafExtras): void {
    this.extras.set(i, extras);
  }

  private setPosition(i: number, p: string): void {
    if (p.startsWith("partition ")) {
      const space = p.indexOf(" offset ", 10);
      if (space > 0) {
        const part = digitsValue(p, 10, space);
        const offset = digitsValue(p, space + 8, p.length);
        if (part >= 0 && part <= 0x7fffffff && offset >= 0) {
          this.posKinds[i] = POS_PARTITION;
          this.posParts[i] = part;
          this.posNums[i] = offset;
          return;
        }
      }
    } else if (p.startsWith("line ")) {
      const line = digitsValue(p, 5, p.length);
      if (line >= 0) {
        this.posKinds[i] = POS_LINE;
        this.posNums[i] = line;
        return;
      }
    }
    this.posKinds[i] = POS_TEXT;
    this.posNums[i] = this.posTexts.length;
    this.posTexts.push(p);
  }

  /** Whether the hex text is the hash of leaf j, without making a string of either. */
  private hexIsHash(hex: string, j: number): boolean {
    if (hex.length !== 64) return false;
    const h = this.hashes;
    const base = j * 32;
    for (let k = 0; k < 32; k++) {
      const hi = HEX_VALUE[hex.charCodeAt(2 * k)] ?? -1;
      const lo = HEX_VALUE[hex.charCodeAt(2 * k + 1)] ?? -1;
      if (hi < 0 || lo < 0 || ((hi << 4) | lo) !== h[base + k]) return false;
    }
    return true;
  }

  seqAt(i: number): number {
    return this.seqs[i] as number;
  }

  epochAt(i: number): number {
    return this.epochs[i] as number;
  }

  /** The type as a small number (LOG, EPOCH_START, ...). */
  typeCodeAt(i: number): number {
    return this.types[i] as number;
  }

  typeAt(i: number): LeafType {
    return TYPES[this.types[i] as number] as LeafType;
  }

  hashAt(i: number): Digest {
    return this.hashes.toString("latin1", i * 32, i * 32 + 32);
  }

  hexAt(i: number): string {
    return this.hashes.toString("hex", i * 32, i * 32 + 32);
  }

  sameHash(i: number, j: number): boolean {
    return (
      i === j || this.hashes.compare(this.hashes, j * 32, j * 32 + 32, i * 32, i * 32 + 32) === 0
    );
  }

  prevIsNull(i: number): boolean {
    return this.prevKinds[i] === PREV_NULL;
  }

  /** Whether leaf i's prev is the hash of leaf j. */
  chainsTo(i: number, j: number): boolean {
    const kind = this.prevKinds[i];
    if (kind === PREV_BEFORE) return this.sameHash(i - 1, j);
    if (kind === PREV_OTHER) return this.hexIsHash(this.prevTexts.get(i) as string, j);
    return false;
  }

  positionAt(i: number): string {
    const kind = this.posKinds[i];
    if (kind === POS_PARTITION) return `partition ${this.posParts[i]} offset ${this.posNums[i]}`;
    if (kind === POS_LINE) return `line ${this.posNums[i]}`;
    return this.posTexts[this.posNums[i] as number] as string;
  }

  extrasAt(i: number): LeafExtras | undefined {
    return this.extras.get(i);
  }

  /** A log leaf's file offset; -1 for other leaves. */
  offsetAt(i: number): number {
    return (this.fileIds[i] as number) < 0 ? -1 : (this.offsets[i] as number);
  }

  /** The source of a log leaf's line (see sourceKey), or undefined for other leaves. */
  sourceKeyAt(i: number): string | undefined {
    const id = this.fileIds[i] as number;
    if (id < 0) return undefined;
    return sourceKeyOf(
      this.files[id],
      this.offsets[i],
      this.lineHashes.toString("hex", i * 32, i * 32 + 32),
    );
  }

  /** Leaf i as an object. */
  fact(i: number): LeafFact {
    if (!(i >= 0 && i < this.length)) throw new RangeError(`no leaf ${i} of ${this.length}`);
    const kind = this.prevKinds[i];
    const fact: LeafFact = {
      seq: this.seqAt(i),
      epoch: this.epochAt(i),
      type: this.typeAt(i),
      hash: this.hashAt(i),
      prev:
        kind === PREV_NULL
          ? null
          : kind === PREV_BEFORE
            ? this.hexAt(i - 1)
            : (this.prevTexts.get(i) as string),
      position: this.positionAt(i),
      ...this.extras.get(i),
    };
    const id = this.fileIds[i] as number;
    if (id >= 0) {
      fact.file = this.files[id] as string;
      fact.offset = this.offsets[i] as number;
      fact.lineHash = this.lineHashes.toString("hex", i * 32, i * 32 + 32);
      fact.identity = this.identities[this.identityIds[i] as number] as string;
    }
    return fact;
  }
}

/**
 * Which leaf holds each seq of a tree: a dense array over the seqs a stream plausibly uses
 * (from the smallest, about twice as many slots as leaves), and a map for any seq beyond them,
 * so one record with a huge seq costs one map entry, not a huge array.
 */
export class SeqSlots {
  private readonly base: number;
  private readonly dense: Int32Array;
  private readonly overflow = new Map<number, number>();

  constructor(minSeq: number, maxSeq: number, leaves: number) {
    this.base = Number.isFinite(minSeq) ? minSeq : 0;
    const span = maxSeq >= this.base ? maxSeq - this.base + 1 : 0;
    this.dense = new Int32Array(Math.min(span, 2 * leaves + 4096)).fill(-1);
  }

  /** The leaf index at seq, or -1. */
  get(seq: number): number {
    const k = seq - this.base;
    if (k >= 0 && k < this.dense.length) return this.dense[k] as number;
    return this.overflow.get(seq) ?? -1;
  }

  set(seq: number, leaf: number): void {
    const k = seq - this.base;
    if (k >= 0 && k < this.dense.length) this.dense[k] = leaf;
    else this.overflow.set(seq, leaf);
  }

  /** The seqs that hold a leaf, from `from` up, in ascending order. */
  *seqsFrom(from: number): Generator<number> {
    const dense = this.dense;
    for (let k = Math.max(0, from - this.base); k < dense.length; k++)
      if ((dense[k] as number) >= 0) yield this.base + k;
    const rest = [...this.overflow.keys()].filter((s) => s >= from).sort((a, b) => a - b);
    yield* rest;
  }
}
