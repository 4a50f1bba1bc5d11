// A Sink that never refuses: it publishes straight to the inner sink while that works and,
// from the first failure, to the disk spool, which a replayer drains to the inner sink in
// order, with backoff, until it is empty; only then do batches go straight through again. A
// batch is acknowledged when it is durable in either place. When the spool is full publish()
// waits (the caller stops reading: backpressure), it never drops.
import { Backoff, sleep } from "../backoff.ts";
import { messageOf, SidecarError } from "../errors.ts";
import { countOf } from "../sink/batch.ts";
import { batchBytes, type Sink, type SinkAck, type SinkBatch } from "../sink/sink.ts";
import type { SpoolQueue } from "./queue.ts";

export type SpoolObservation =
  | { type: "sink-failed"; sink: string; error: SidecarError; spooling: boolean }
  | { type: "sink-recovered"; sink: string; replayedBatches: number }
  | { type: "spooled"; records: number; bytes: number; spoolBytes: number }
  | { type: "replayed"; records: number; bytes: number; spoolBytes: number }
  | { type: "spool-full"; full: boolean; spoolBytes: number };

export interface SpoolStatus {
  mode: "direct" | "spooling";
  spoolBytes: number;
  spoolMaxBytes: number;
  full: boolean;
  lastError: SidecarError | undefined;
}

export interface SpoolingSinkOptions {
  backoff?: Backoff;
  observe?(o: SpoolObservation): void;
}

export class SpoolingSink implements Sink {
  readonly name: string;
  private readonly inner: Sink;
  private readonly queue: SpoolQueue;
  private readonly backoff: Backoff;
  private readonly observe: (o: SpoolObservation) => void;
  private mode: "direct" | "spooling";
  private chain: Promise<unknown> = Promise.resolve();
  private replaying: Promise<void> | undefined;
  private readonly stop = new AbortController();
  private spaceWaiters: (() => void)[] = [];
  private full = false;
  private lastError: SidecarError | undefined;

  constructor(inner: Sink, queue: SpoolQueue, opts: SpoolingSinkOptions = {}) {
    this.name = `${inner.name}+spool`;
    this.inner = inner;
    this.queue = queue;
    this.backoff = opts.backoff ?? new Backoff({ initialMs: 200, maxMs: 30_000 });
    this.observe = opts.observe ?? (() => undefined);
    // A spool left by a previous run is published before anything new.
    this.mode = queue.isEmpty ? "direct" : "spooling";
    if (this.mode === "spooling") this.startReplay();
  }

  status(): SpoolStatus {
    return {
      mode: this.mode,
      spoolBytes: this.queue.diskBytes,
      spoolMaxBytes: this.queue.maxBytes,
      full: this.full,
      lastError: this.lastError,
    };
  }

  publish(batch: SinkBatch): Promise<SinkAck> {
    const run = this.chain.then(() => this.publishNow(batch));
    this.chain = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.stop.abort();
    for (const wake of this.spaceWaiters.splice(0)) wake();
    await this.chain;
    await this.replaying;
    await this.inner.close();
    await this.queue.close();
  }

  private async publishNow(batch: SinkBatch): Promise<SinkAck> {
    if (this.mode === "direct") {
      try {
        const ack = await this.inner.publish(batch);
        this.lastError = undefined;
        return ack;
      } catch (err) {
        this.failed(err, true);
        this.mode = "spooling";
        this.startReplay();
      }
    }
    const bytes = batchBytes(batch);
    while (!(await this.queue.append(batch))) {
      if (this.stop.signal.aborted) {
        throw new SidecarError("sink", "spool closed while waiting for space", { retriable: true });
      }
      this.setFull(true);
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
    this.setFull(false);
    this.observe({
      type: "spooled",
      records: countOf(batch),
      bytes,
      spoolBytes: this.queue.diskBytes,
    });
    return { where: "spool", count: countOf(batch), bytes };
  }

  private startReplay(): void {
    this.replaying ??= this.replay().finally(() => {
      this.replaying = undefined;
    });
  }

  private async replay(): Promise<void> {
    let batches = 0;
    await sleep(this.backoff.next(), this.stop.signal);
    while (!this.stop.signal.aborted) {
      const frame = await this.queue.peek();
      if (!frame) {
        // Switch back only between two publishes, so nothing overtakes a spooled batch.
        const done = this.chain.then(() => {
          if (!this.queue.isEmpty) return false;
          this.mode = "direct";
          return true;
        });
        this.chain = done;
        if (await done) {
          this.backoff.reset();
          this.observe({ type: "sink-recovered", sink: this.inner.name, replayedBatches: batches });
          return;
        }
        continue;
      }
      try {
        const ack = await this.inner.publish(frame.batch);
        await this.queue.advance(frame);
        batches++;
        this.lastError = undefined;
        this.backoff.reset();
        this.observe({
          type: "replayed",
          records: ack.count,
          bytes: ack.bytes,
          spoolBytes: this.queue.diskBytes,
        });
        for (const wake of this.spaceWaiters.splice(0)) wake();
      } catch (err) {
        this.failed(err, true);
        await sleep(this.backoff.next(), this.stop.signal);
      }
    }
  }

  private failed(err: unknown, spooling: boolean): void {
    const error =
      err instanceof SidecarError
        ? err
        : new SidecarError("sink", `${this.inner.name}: ${messageOf(err)}`, {
            retriable: true,
            cause: err,
          });
    this.lastError = error;
    this.observe({ type: "sink-failed", sink: this.inner.name, error, spooling });
  }

  private setFull(full: boolean): void {
    if (this.full === full) return;
    this.full = full;
    this.observe({ type: "spool-full", full, spoolBytes: this.queue.diskBytes });
  }
}
