// Faster drop-ins for three kafkajs 2.2.4 internals on the produce path, installed into the
// CommonJS module cache before kafkajs loads (so import this module before "kafkajs"). They write
// the same bytes as the originals (unit-tested against them); what changes is the work:
// - groupMessagesPerPartition built each partition's array with `[...current, message]`, a copy
//   per message: O(n^2) time and garbage per batch (a 4,000-record batch made ~64 MB of arrays);
// - a record was encoded through a 512-byte zero-filled Encoder that doubled (and zero-filled)
//   to fit a ~1 KB value, and every varint went through a fresh Buffer (and Long for the
//   timestamp); then the records of a batch were concatenated through another doubling Encoder
//   before compression. Here a record only computes its size, and the batch writes every record
//   straight into one buffer of the exact size: one copy of each value.
// - a packed batch (one buffer for a whole batch, batch.ts) goes through kafkajs as one message
//   object per run of same-key records, repeated, instead of an object per record: its records
//   are written into the batch from the packed buffer (`packedMessages`);
// - the record batch's CRC-32C is computed eight bytes at a time (crc32c.ts) instead of one.
// kafkajs is unmaintained (2.2.4 is its last release); on any other version, or when kafkajs
// was loaded first, nothing is installed and the stock code runs (`kafkajsFastPaths` says which).
import { createRequire } from "node:module";
import type { PackedBatch } from "./batch.ts";
import { crc32c } from "./crc32c.ts";

const require = createRequire(import.meta.url);

export interface EncoderLike {
  readonly buf: Buffer;
  readonly offset: number;
  readonly buffer: Buffer;
}
type EncoderClass = new (initialSize?: number) => EncoderLike;

export interface RecordInput {
  /** Set on the messages of `packedMessages` (kept by kafkajs' spread of each message). */
  packedRun?: unknown;
  offsetDelta?: number;
  timestampDelta?: unknown;
  key?: Buffer | string | null;
  value?: Buffer | string | null;
  headers?: Record<string, unknown>;
}

interface PartitionArgs<M> {
  topic: string;
  partitionMetadata: unknown[];
  messages: M[];
  partitioner: (args: { topic: string; partitionMetadata: unknown[]; message: M }) => number;
}

/** kafkajs' groupMessagesPerPartition, linear: same grouping, same order, same object shape. */
export function groupMessagesPerPartition<M>({
  topic,
  partitionMetadata,
  messages,
  partitioner,
}: PartitionArgs<M>): Record<string, M[]> {
  const result: Record<string, M[]> = {};
  if (partitionMetadata.length === 0) return result;
  // A packed run's message is repeated once per record and has a string key: ask once per run
  // (only there: a partitioner may be stateful for other messages, e.g. round robin).
  let lastRun: unknown;
  let lastPartition = 0;
  for (const message of messages) {
    const run = (message as RecordInput | undefined)?.packedRun;
    const partition =
      run !== undefined && run === lastRun
        ? lastPartition
        : partitioner({ topic, partitionMetadata, message });
    lastRun = run;
    lastPartition = partition;
    const list = result[partition];
    if (list) list.push(message);
    else result[partition] = [message];
  }
  return result;
}

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

/** Bytes of a zigzag varint of a 32-bit signed integer. */
function varIntSize(value: number): number {
  let u = ((value << 1) ^ (value >> 31)) >>> 0;
  let n = 1;
  while (u >= 0x80) {
    n++;
    u >>>= 7;
  }
  return n;
}

function writeVarInt(buf: Buffer, at: number, value: number): number {
  let u = ((value << 1) ^ (value >> 31)) >>> 0;
  while (u >= 0x80) {
    buf[at++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[at++] = u;
  return at;
}

const noHeaders = (h: Record<string, unknown> | undefined) => {
  if (h === undefined) return true;
  for (const _ in h) return false;
  return true;
};

/**
 * Builds the fast record encoder, with kafkajs' stock Record for the cases it does not cover
 * (headers, timestamps outside 32 bits).
 */
export function fastRecord(
  stock: (r: RecordInput) => EncoderLike,
): (r: RecordInput) => EncoderLike | PackedRun {
  let lastKey: string | undefined;
  let lastKeyBytes = Buffer.alloc(0);
  const bytesOf = (v: Buffer | string): Buffer => {
    if (typeof v !== "string") return v;
    if (v !== lastKey) {
      lastKey = v;
      lastKeyBytes = Buffer.from(v);
    }
    return lastKeyBytes;
  };
  return (r) => {
    if (r.packedRun instanceof PackedRun) {
      // kafkajs gives each message of a partition its timestamp's delta to the first one; the
      // runs carry none, so it is 0 for all (checked: the batch writes 0).
      if ((r.timestampDelta ?? 0) !== 0) throw new Error("packed records take no timestamp");
      return r.packedRun;
    }
    const ts = r.timestampDelta ?? 0;
    const offsetDelta = r.offsetDelta ?? 0;
    const key = r.key ?? null;
    const value = r.value ?? null;
    if (
      typeof ts !== "number" ||
      !Number.isInteger(ts) ||
      ts < INT32_MIN ||
      ts > INT32_MAX ||
      !Number.isInteger(offsetDelta) ||
      offsetDelta < INT32_MIN ||
      offsetDelta > INT32_MAX ||
      !noHeaders(r.headers) ||
      (key !== null && typeof key !== "string" && !Buffer.isBuffer(key)) ||
      (value !== null && typeof value !== "string" && !Buffer.isBuffer(value))
    ) {
      return stock(r);
    }
    const k = key === null ? null : bytesOf(key);
    const v = value === null ? null : typeof value === "string" ? Buffer.from(value) : value;
    return new PendingRecord(ts, offsetDelta, k, v);
  };
}

/**
 * One record, encoded only when written: the batch writes every record straight into its one
 * buffer (a single copy of each value). `buf`, `offset` and `buffer` make it an Encoder for
 * anything else, which then gets the record's own bytes.
 */
export class PendingRecord implements EncoderLike {
  readonly size: number;
  private readonly body: number;
  private readonly ts: number;
  private readonly offsetDelta: number;
  private readonly key: Buffer | null;
  private readonly value: Buffer | null;
  private own: Buffer | undefined;

  constructor(ts: number, offsetDelta: number, key: Buffer | null, value: Buffer | null) {
    this.ts = ts;
    this.offsetDelta = offsetDelta;
    this.key = key;
    this.value = value;
    const kSize = key === null ? 1 : varIntSize(key.length) + key.length;
    const vSize = value === null ? 1 : varIntSize(value.length) + value.length;
    // attributes, timestamp delta (a varlong: the same bytes as a varint within 32 bits),
    // offset delta, key, value, header count (0).
    this.body = 1 + varIntSize(ts) + varIntSize(offsetDelta) + kSize + vSize + 1;
    this.size = varIntSize(this.body) + this.body;
  }

  /** Writes the record at `at`; returns the offset after it. */
  writeTo(buf: Buffer, at: number): number {
    at = writeVarInt(buf, at, this.body);
    buf[at++] = 0;
    at = writeVarInt(buf, at, this.ts);
    at = writeVarInt(buf, at, this.offsetDelta);
    const { key, value } = this;
    if (key === null) at = writeVarInt(buf, at, -1);
    else {
      at = writeVarInt(buf, at, key.length);
      at += key.copy(buf, at);
    }
    if (value === null) at = writeVarInt(buf, at, -1);
    else {
      at = writeVarInt(buf, at, value.length);
      at += value.copy(buf, at);
    }
    buf[at++] = 0;
    return at;
  }

  get buf(): Buffer {
    if (!this.own) {
      this.own = Buffer.allocUnsafe(this.size);
      this.writeTo(this.own, 0);
    }
    return this.own;
  }

  get offset(): number {
    return this.size;
  }

  get buffer(): Buffer {
    return this.buf;
  }
}

/**
 * Records [from, to) of a packed batch, all with one key. kafkajs sees it as one message
 * repeated `to - from` times (in order, one partition), and the record batch writes the records
 * from the packed buffer with the offset delta of their place in the partition's batch.
 */
export class PackedRun {
  readonly batch: PackedBatch;
  readonly from: number;
  readonly to: number;
  readonly key: Buffer;

  constructor(batch: PackedBatch, from: number, to: number, key: Buffer) {
    this.batch = batch;
    this.from = from;
    this.to = to;
    this.key = key;
  }

  /** Bytes of the records when the first one has offset delta `offsetDelta`. */
  size(offsetDelta: number): number {
    const kSize = varIntSize(this.key.length) + this.key.length;
    let total = 0;
    for (let i = this.from; i < this.to; i++) {
      const vLen = this.batch.valueLength(i);
      // attributes, timestamp delta 0, offset delta, key, value, header count 0
      const body = 1 + 1 + varIntSize(offsetDelta++) + kSize + varIntSize(vLen) + vLen + 1;
      total += varIntSize(body) + body;
    }
    return total;
  }

  /** Writes the records at `at`; returns the offset after them. */
  writeTo(buf: Buffer, at: number, offsetDelta: number): number {
    const { key, batch } = this;
    const { data, spans } = batch;
    const kSize = varIntSize(key.length) + key.length;
    for (let i = this.from; i < this.to; i++) {
      const start = spans[2 * i] as number;
      const end = spans[2 * i + 1] as number;
      const vLen = end - start;
      const body = 1 + 1 + varIntSize(offsetDelta) + kSize + varIntSize(vLen) + vLen + 1;
      at = writeVarInt(buf, at, body);
      buf[at++] = 0; // attributes
      buf[at++] = 0; // timestamp delta
      at = writeVarInt(buf, at, offsetDelta++);
      at = writeVarInt(buf, at, key.length);
      at += key.copy(buf, at);
      at = writeVarInt(buf, at, vLen);
      at += data.copy(buf, at, start, end);
      buf[at++] = 0; // headers
    }
    return at;
  }
}

/**
 * The messages to give kafkajs' producer.send() for a packed batch: per run of same-key records
 * one message object, repeated once per record. Only with the fast paths installed (the stock
 * Record would encode them as null values): see `kafkajsFastPaths`.
 */
export function packedMessages(
  batch: PackedBatch,
): { key: string; value: null; packedRun: PackedRun }[] {
  const out = new Array<{ key: string; value: null; packedRun: PackedRun }>(batch.count);
  let from = 0;
  for (let r = 0; r < batch.runKeys.length; r++) {
    const key = batch.runKeys[r] as string;
    const to = batch.runEnds[r] as number;
    const message = {
      key,
      value: null,
      packedRun: new PackedRun(batch, from, to, Buffer.from(key)),
    };
    out.fill(message, from, to);
    from = to;
  }
  return out;
}

type AnyRecord = EncoderLike | PackedRun;

/** How many records from `i` are `run` (a run's records must stay together, in order). */
function runLength(records: readonly AnyRecord[], i: number, run: PackedRun): number {
  const n = run.to - run.from;
  if (i + n > records.length) throw new Error("packed run split across partitions");
  for (let k = 1; k < n; k++) {
    if (records[i + k] !== run) throw new Error("packed run split across partitions");
  }
  return n;
}

/** Bytes of all records of a batch. */
function recordsSize(records: readonly AnyRecord[]): number {
  let total = 0;
  for (let i = 0; i < records.length; ) {
    const r = records[i] as AnyRecord;
    if (r instanceof PackedRun) {
      total += r.size(i);
      i += runLength(records, i, r);
      continue;
    }
    total += r instanceof PendingRecord ? r.size : r.offset;
    i++;
  }
  return total;
}

/** Writes all records of a batch into `out`, which has exactly their size; returns `out`. */
function writeRecords(records: readonly AnyRecord[], out: Buffer): Buffer {
  let at = 0;
  for (let i = 0; i < records.length; ) {
    const r = records[i] as AnyRecord;
    if (r instanceof PackedRun) {
      at = r.writeTo(out, at, i);
      i += r.to - r.from;
      continue;
    }
    if (r instanceof PendingRecord) at = r.writeTo(out, at);
    else at += r.buffer.copy(out, at);
    i++;
  }
  if (at !== out.length) throw new Error(`record batch: wrote ${at} of ${out.length} bytes`);
  return out;
}

/**
 * The buffer the records of a compressed batch are joined in before the codec reads them: kept
 * for the next batch instead of a fresh one per batch, whose first touch of every page costs
 * a page fault (measured ~0.3-0.5 µs per 1 KB record). One buffer, taken while in use (batches
 * of several partitions may compress at once), at most 8 MiB, and dropped when a batch needs
 * far less (after a backlog, a steady low rate does not keep its size resident).
 */
class Scratch {
  private spare: Buffer | undefined;

  take(size: number): Buffer {
    const b = this.spare;
    this.spare = undefined;
    if (b !== undefined && b.length >= size && b.length <= 8 * Math.max(size, 65_536)) return b;
    return Buffer.allocUnsafeSlow(size); // its own memory, never the shared pool
  }

  give(b: Buffer): void {
    if (b.length <= 8 * 1_048_576 && (this.spare === undefined || this.spare.length < b.length)) {
      this.spare = b;
    }
  }
}

/** An Encoder holding exactly `buf` (what kafkajs would have after writing those bytes). */
function asEncoder(Encoder: EncoderClass, buf: Buffer): EncoderLike {
  const e = Object.create(Encoder.prototype) as { buf: Buffer; offset: number };
  e.buf = buf;
  e.offset = buf.length;
  return e as EncoderLike;
}

interface Codec {
  compress(encoder: EncoderLike): Promise<Buffer>;
}

export interface RecordBatchInput {
  compression?: number;
  firstOffset?: unknown;
  firstTimestamp?: unknown;
  maxTimestamp?: unknown;
  partitionLeaderEpoch?: number;
  lastOffsetDelta?: number;
  transactional?: boolean;
  producerId?: unknown;
  producerEpoch?: number;
  firstSequence?: number;
  records?: AnyRecord[];
}

interface Deps {
  Encoder: EncoderClass;
  Long: { fromInt(n: number): unknown; fromValue(v: unknown): unknown };
  crc32C: (b: Buffer) => number;
  lookupCodec: (type: number) => Codec | null;
  COMPRESSION_CODEC_MASK: number;
  MAGIC_BYTE: number;
}

/** kafkajs' RecordBatch (v0 of the record batch format, magic 2), records joined in one copy. */
export function fastRecordBatch(d: Deps): (b: RecordBatchInput) => Promise<EncoderLike> {
  type Writer = EncoderLike & {
    writeInt8(v: number): Writer;
    writeInt16(v: number): Writer;
    writeInt32(v: number): Writer;
    writeUInt32(v: number): Writer;
    writeInt64(v: unknown): Writer;
    writeBuffer(v: Buffer): Writer;
    writeBytes(v: Buffer): Writer;
    writeEncoder(v: EncoderLike): Writer;
  };
  const writer = (size?: number) => new d.Encoder(size) as Writer;
  const scratch = new Scratch();
  return async ({
    compression = 0,
    firstOffset = d.Long.fromInt(0),
    firstTimestamp = Date.now(),
    maxTimestamp = Date.now(),
    partitionLeaderEpoch = 0,
    lastOffsetDelta = 0,
    transactional = false,
    producerId = d.Long.fromValue(-1),
    producerEpoch = 0,
    firstSequence = 0,
    records = [],
  }) => {
    const attributes = (compression & d.COMPRESSION_CODEC_MASK) | (transactional ? 16 : 0);
    const count = records.length;
    const size = recordsSize(records);
    let payload: Buffer;
    if (compression === 0) {
      payload = writeRecords(records, Buffer.allocUnsafe(size)); // part of the request
    } else {
      const codec = d.lookupCodec(compression);
      if (!codec) throw new Error(`no codec for compression ${compression}`);
      // Only the codec reads the joined records, and not once it has resolved.
      const buf = scratch.take(size);
      try {
        const joined = writeRecords(records, buf.subarray(0, size));
        payload = await codec.compress(asEncoder(d.Encoder, joined));
      } finally {
        scratch.give(buf);
      }
    }
    const batchBody = writer(61 + payload.length)
      .writeInt16(attributes)
      .writeInt32(lastOffsetDelta)
      .writeInt64(firstTimestamp)
      .writeInt64(maxTimestamp)
      .writeInt64(producerId)
      .writeInt16(producerEpoch)
      .writeInt32(firstSequence)
      .writeInt32(count)
      .writeBuffer(payload);
    const batch = writer(16 + batchBody.offset)
      .writeInt32(partitionLeaderEpoch)
      .writeInt8(d.MAGIC_BYTE)
      .writeUInt32(d.crc32C(batchBody.buffer))
      .writeEncoder(batchBody);
    return writer(16 + batch.offset)
      .writeInt64(firstOffset)
      .writeBytes(batch.buffer);
  };
}

const ORIGINAL = Symbol.for("auditready.kafkajs-fast.original");

/** Puts `exports` in the module cache for `path`; it remembers what it replaced. */
function install(path: string, exports: object): void {
  const resolved = require.resolve(path);
  Object.defineProperty(exports, ORIGINAL, { value: require(path) });
  const Module = require("node:module") as new (
    id: string,
  ) => { filename: string; loaded: boolean; exports: unknown };
  const m = new Module(resolved);
  m.filename = resolved;
  m.exports = exports;
  m.loaded = true;
  require.cache[resolved] = m as unknown as NodeJS.Module;
}

/** A module's exports as kafkajs ships them, even after install() replaced them. */
function original<T>(path: string): T {
  const loaded = require(path) as { [ORIGINAL]?: T };
  return loaded[ORIGINAL] ?? (loaded as T);
}

const SRC = "kafkajs/src/protocol";
const RECORD = `${SRC}/recordBatch/record/v0/index.js`;
const BATCH = `${SRC}/recordBatch/v0/index.js`;
const GROUP = "kafkajs/src/producer/groupMessagesPerPartition.js";

/**
 * The kafkajs originals and their replacements, built on the same Encoder: the tests compare
 * their bytes.
 */
export function kafkajsParts() {
  const Encoder = require(`${SRC}/encoder.js`) as EncoderClass;
  const compression = require(`${SRC}/message/compression/index.js`) as {
    lookupCodec: Deps["lookupCodec"];
    COMPRESSION_CODEC_MASK: number;
  };
  const batch = original<{
    RecordBatch: (b: RecordBatchInput) => Promise<EncoderLike>;
    MAGIC_BYTE: number;
  }>(BATCH);
  const crc = require(`${SRC}/recordBatch/crc32C/index.js`) as Deps["crc32C"];
  const stock = {
    Record: original<(r: RecordInput) => EncoderLike>(RECORD),
    RecordBatch: batch.RecordBatch,
    crc32C: crc,
    MAGIC_BYTE: batch.MAGIC_BYTE,
    groupMessagesPerPartition: original<typeof groupMessagesPerPartition>(GROUP),
  };
  const fast = {
    Record: fastRecord(stock.Record),
    RecordBatch: fastRecordBatch({
      Encoder,
      Long: require("kafkajs/src/utils/long.js") as Deps["Long"],
      crc32C: crc32c,
      lookupCodec: compression.lookupCodec,
      COMPRESSION_CODEC_MASK: compression.COMPRESSION_CODEC_MASK,
      MAGIC_BYTE: stock.MAGIC_BYTE,
    }),
    groupMessagesPerPartition,
    crc32C: crc32c,
  };
  return { stock, fast };
}

export const KAFKAJS_VERSION = (require("kafkajs/package.json") as { version: string }).version;

function installAll():
  | "installed"
  | "already-installed"
  | "kafkajs-loaded-first"
  | "other-version" {
  if (KAFKAJS_VERSION !== "2.2.4") return "other-version";
  if ((require(GROUP) as { [ORIGINAL]?: unknown })[ORIGINAL]) return "already-installed";
  if (require.cache[require.resolve("kafkajs")]) return "kafkajs-loaded-first";
  const { stock, fast } = kafkajsParts();
  install(RECORD, fast.Record);
  install(BATCH, { RecordBatch: fast.RecordBatch, MAGIC_BYTE: stock.MAGIC_BYTE });
  install(GROUP, fast.groupMessagesPerPartition);
  return "installed";
}

/** Whether the fast paths are in use in this process, and if not, why. */
export const kafkajsFastPaths = installAll();
