// The publish stage: collects messages into batches (up to maxRecords / maxBytes), sends one
// batch at a time through the sink, and calls onAck with each batch's items in order once the
// sink has acknowledged it. Group commit: while the sink is idle a batch waits at most lingerMs
// for more; while a batch is in flight the next one grows and goes out as soon as the sink is
// free, so batches are small (low latency) at low rates and large (high throughput) under load. A rejected batch is retried, with the one
// backoff policy, until it is accepted: nothing is dropped. Bytes not yet acknowledged are
// bounded: above highWaterBytes `onPressure(true)` asks the producer to stop, below half of it
// `onPressure(false)` lets it go on.
import { Backoff, sleep } from "../backoff.ts";
import { messageOf, SidecarError } from "../errors.ts";
import { BatchBuilder, type PackedBatch } from "./batch.ts";
import type { Sink, SinkAck, SinkMessage } from "./sink.ts";

/**
 * One batch: the messages packed into one buffer (each value copied in when it is added, so the
 * caller's objects die young) and one meta per message. A batch's records stay alive through
 * the linger, the send and the ack, and every object per record would be copied by each
 * young-generation GC until it is promoted (with a 2 MB semi-space that was most of the GC).
 */
interface ReadyBatch<T> {
  batch: PackedBatch;
  /** Carried to onAck untouched (commit points, stream state), one per message. */
  metas: T[];
  /** Sum of sizeOf() over the messages (what pendingBytes counts). */
  size: number;
}

export interface OutboxOptions<T> {
  sink: Sink;
  maxRecords: number;
  maxBytes: number;
  lingerMs: number;
  highWaterBytes: number;
  onAck(metas: T[], ack: SinkAck): void | Promise<void>;
  /** Runs once before a batch is first sent (write-ahead notes); a failure is retried. */
  beforePublish?(metas: T[]): Promise<void>;
  onPressure?(paused: boolean): void;
  onRetry?(error: SidecarError, attempt: number): void;
  backoff?: Backoff;
}

export class Outbox<T> {
  private readonly opts: OutboxOptions<T>;
  private readonly backoff: Backoff;
  private readonly builder = new BatchBuilder();
  private currentMetas: T[] = [];
  private currentBytes = 0;
  /** When the first item of the current batch came in. */
  private currentSince = 0;
  private readonly ready: ReadyBatch<T>[] = [];
  private unacked = 0;
  private pressured = false;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly stopping = new AbortController();

  constructor(opts: OutboxOptions<T>) {
    this.opts = opts;
    this.backoff = opts.backoff ?? new Backoff({ initialMs: 200, maxMs: 30_000 });
  }

  /** Bytes handed in and not yet acknowledged. */
  get pendingBytes(): number {
    return this.unacked;
  }

  get isPressured(): boolean {
    return this.pressured;
  }

  /** `message`'s value is copied now: the caller may reuse or drop it. */
  add(message: SinkMessage, meta: T): void {
    const size = sizeOf(message);
    const n = this.builder.count;
    if (n > 0 && (n >= this.opts.maxRecords || this.currentBytes + size > this.opts.maxBytes)) {
      this.seal();
    }
    if (this.builder.count === 0) this.currentSince = Date.now();
    this.builder.add(message.key, message.value);
    this.currentMetas.push(meta);
    this.currentBytes += size;
    this.unacked += size;
    if (!this.pressured && this.unacked >= this.opts.highWaterBytes) {
      this.pressured = true;
      this.opts.onPressure?.(true);
    }
    if (this.builder.count >= this.opts.maxRecords) this.seal();
    else if (!this.sending) this.timer ??= setTimeout(() => this.seal(), this.opts.lingerMs);
  }

  /** Sends what is collected now and resolves when everything handed in is acknowledged. */
  async flush(): Promise<void> {
    this.seal();
    if (!this.sending && this.ready.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops retrying (shutdown after the grace period); unacknowledged items stay unacked. */
  abort(): void {
    this.stopping.abort();
    clearTimeout(this.timer);
  }

  private seal(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.builder.count === 0) return;
    this.takeCurrent();
    this.sending ??= this.run().finally(() => {
      this.sending = undefined;
      if (this.ready.length === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    });
  }

  /** Sends ready batches, then what collected meanwhile (lingering only what just came in). */
  private async run(): Promise<void> {
    for (;;) {
      await this.drain();
      if (this.builder.count === 0 || this.stopping.signal.aborted) return;
      const waited = Date.now() - this.currentSince;
      if (waited < this.opts.lingerMs) {
        this.timer ??= setTimeout(() => this.seal(), this.opts.lingerMs - waited);
        return;
      }
      this.takeCurrent();
    }
  }

  private takeCurrent(): void {
    this.ready.push({
      batch: this.builder.take(),
      metas: this.currentMetas,
      size: this.currentBytes,
    });
    this.currentMetas = [];
    this.currentBytes = 0;
  }

  private async drain(): Promise<void> {
    for (let next = this.ready.shift(); next; next = this.ready.shift()) {
      const { batch, metas, size } = next;
      let prepared = this.opts.beforePublish === undefined;
      for (let attempt = 1; ; attempt++) {
        if (this.stopping.signal.aborted) return;
        try {
          if (!prepared) {
            await this.opts.beforePublish?.(metas);
            prepared = true;
          }
          const ack = await this.opts.sink.publish(batch);
          this.backoff.reset();
          this.unacked -= size;
          // Published: no sink reads the batch any more (each copies what it keeps).
          this.builder.reuse(batch);
          await this.opts.onAck(metas, ack);
          break;
        } catch (err) {
          const error =
            err instanceof SidecarError
              ? err
              : new SidecarError("sink", messageOf(err), { retriable: true, cause: err });
          this.opts.onRetry?.(error, attempt);
          await sleep(this.backoff.next(), this.stopping.signal);
        }
      }
      if (this.pressured && this.unacked < this.opts.highWaterBytes / 2) {
        this.pressured = false;
        this.opts.onPressure?.(false);
      }
    }
  }
}

function sizeOf(m: SinkMessage): number {
  return m.value.length + m.key.length;
}
