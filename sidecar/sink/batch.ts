// A batch of messages packed into one buffer: the values back to back, each message's span in
// one Uint32Array, its key as runs (consecutive messages with the same key share one entry).
// A batch of 8,000 records is then a handful of objects instead of two or three per record,
// which matters because a batch stays alive through the linger, the send and the ack: with the
// sidecar's 2 MB young generation every object per record was copied by each scavenge until it
// was promoted. Sinks read a batch by index; `messages()` makes objects for the slow paths.
import type { SinkMessage } from "./sink.ts";

export class PackedBatch {
  /** Number of messages. */
  readonly count: number;
  /** The values, back to back (message i is data[spans[2i], spans[2i+1])). */
  readonly data: Buffer;
  readonly spans: Uint32Array;
  /** Run r holds messages [runEnds[r-1] ?? 0, runEnds[r]), all with key runKeys[r]. */
  readonly runKeys: readonly string[];
  readonly runEnds: readonly number[];
  /** Bytes of the values and (UTF-8) keys, what a sink acknowledges. */
  readonly bytes: number;
  /** The builder's whole buffer that `data` is a view of (given back by BatchBuilder.reuse). */
  backing: Buffer | undefined;

  constructor(
    data: Buffer,
    spans: Uint32Array,
    runKeys: readonly string[],
    runEnds: readonly number[],
    bytes?: number,
  ) {
    this.data = data;
    this.spans = spans;
    this.count = spans.length >>> 1;
    this.runKeys = runKeys;
    this.runEnds = runEnds;
    if (bytes === undefined) {
      let n = 0;
      let from = 0;
      for (let r = 0; r < runKeys.length; r++) {
        const end = runEnds[r] as number;
        n += (end - from) * Buffer.byteLength(runKeys[r] as string);
        from = end;
      }
      for (let i = 0; i < this.count; i++) n += this.valueLength(i);
      bytes = n;
    }
    this.bytes = bytes;
  }

  /** Copies `messages` into one packed batch. */
  static from(messages: readonly SinkMessage[]): PackedBatch {
    const b = new BatchBuilder();
    for (const m of messages) b.add(m.key, m.value);
    return b.take();
  }

  valueLength(i: number): number {
    return (this.spans[2 * i + 1] as number) - (this.spans[2 * i] as number);
  }

  /** A view of message i's value (no copy). */
  value(i: number): Buffer {
    return this.data.subarray(this.spans[2 * i], this.spans[2 * i + 1]);
  }

  /** Copies message i's value into `target` at `at`; returns the bytes copied. */
  copyValue(i: number, target: Buffer, at: number): number {
    return this.data.copy(target, at, this.spans[2 * i], this.spans[2 * i + 1]);
  }

  key(i: number): string {
    for (let r = 0; r < this.runEnds.length; r++) {
      if (i < (this.runEnds[r] as number)) return this.runKeys[r] as string;
    }
    throw new RangeError(`message ${i} of ${this.count}`);
  }

  /** Messages [from, to) as a batch over the same buffer (no copy). */
  slice(from: number, to: number): PackedBatch {
    from = Math.max(0, Math.min(from, this.count));
    to = Math.max(from, Math.min(to, this.count));
    const runKeys: string[] = [];
    const runEnds: number[] = [];
    let start = 0;
    for (let r = 0; r < this.runEnds.length; r++) {
      const end = this.runEnds[r] as number;
      if (end > from && start < to) {
        runKeys.push(this.runKeys[r] as string);
        runEnds.push(Math.min(end, to) - from);
      }
      start = end;
    }
    return new PackedBatch(this.data, this.spans.subarray(2 * from, 2 * to), runKeys, runEnds);
  }

  /** One object per message (views of the values): for tests and the slow paths. */
  messages(): SinkMessage[] {
    const out: SinkMessage[] = [];
    let i = 0;
    for (let r = 0; r < this.runEnds.length; r++) {
      const key = this.runKeys[r] as string;
      for (const end = this.runEnds[r] as number; i < end; i++)
        out.push({ key, value: this.value(i) });
    }
    return out;
  }
}

/** What a sink is given: a packed batch, or (tests, the spool's replay) plain messages. */
export type SinkBatch = PackedBatch | readonly SinkMessage[];

export const packed = (batch: SinkBatch): PackedBatch =>
  batch instanceof PackedBatch ? batch : PackedBatch.from(batch);

export const countOf = (batch: SinkBatch): number =>
  batch instanceof PackedBatch ? batch.count : batch.length;

/**
 * Collects messages into a PackedBatch, copying each value once. The buffer grows by doubling
 * and starts at the size the previous batch needed (at most `maxStartBytes`), so a steady load
 * does not grow it. A batch's buffer can be handed back once nothing reads it any more
 * (`reuse`): a dropped one is freed only by a full GC, which the small heap makes rare, so
 * without reuse dead batch buffers would pile up outside the heap.
 */
export class BatchBuilder {
  private readonly maxStartBytes: number;
  private readonly spare: Buffer[] = [];
  private data: Buffer;
  private used = 0;
  private spans: Uint32Array;
  private n = 0;
  private runKeys: string[] = [];
  private runEnds: number[] = [];
  private lastKey: string | undefined;
  private lastKeyBytes = 0;
  private keyBytes = 0;

  constructor(initialBytes = 65_536, initialRecords = 256, maxStartBytes = 8 * 1_048_576) {
    this.maxStartBytes = maxStartBytes;
    this.data = Buffer.allocUnsafeSlow(initialBytes); // its own memory, never the shared pool
    this.spans = new Uint32Array(2 * initialRecords);
  }

  get count(): number {
    return this.n;
  }

  /** Bytes of values held. */
  get valueBytes(): number {
    return this.used;
  }

  add(key: string, value: Buffer): void {
    const len = value.length;
    if (this.used + len > this.data.length) this.growData(this.used + len);
    if (2 * this.n + 2 > this.spans.length) this.growSpans();
    value.copy(this.data, this.used);
    this.spans[2 * this.n] = this.used;
    this.used += len;
    this.spans[2 * this.n + 1] = this.used;
    this.n++;
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.lastKeyBytes = Buffer.byteLength(key);
      this.runKeys.push(key);
      this.runEnds.push(this.n);
    } else {
      this.runEnds[this.runEnds.length - 1] = this.n;
    }
    this.keyBytes += this.lastKeyBytes;
  }

  /** The batch collected so far; the builder starts empty again (with fresh buffers). */
  take(): PackedBatch {
    const batch = new PackedBatch(
      this.data.subarray(0, this.used),
      this.spans.subarray(0, 2 * this.n),
      this.runKeys,
      this.runEnds,
      this.used + this.keyBytes,
    );
    batch.backing = this.data;
    const size = Math.max(65_536, Math.min(this.maxStartBytes, this.data.length));
    const spare = this.spare.pop();
    this.data = spare !== undefined && spare.length >= size ? spare : Buffer.allocUnsafeSlow(size);
    this.spans = new Uint32Array(Math.max(512, this.spans.length));
    this.used = 0;
    this.n = 0;
    this.runKeys = [];
    this.runEnds = [];
    this.lastKey = undefined;
    this.keyBytes = 0;
    return batch;
  }

  /**
   * Gives `batch`'s buffer back for the next batches. Only when nothing reads the batch any
   * more (it was acknowledged, and every sink copies or has sent what it keeps).
   */
  reuse(batch: PackedBatch): void {
    const b = batch.backing;
    batch.backing = undefined;
    if (b === undefined || b.length > this.maxStartBytes || this.spare.length >= 2) return;
    this.spare.push(b);
  }

  private growData(need: number): void {
    let size = this.data.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.data.copy(next, 0, 0, this.used);
    this.data = next;
  }

  private growSpans(): void {
    const next = new Uint32Array(this.spans.length * 2);
    next.set(this.spans);
    this.spans = next;
  }
}
