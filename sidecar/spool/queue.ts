// A bounded FIFO of batches on disk: numbered segment files plus a head cursor. Appends are
// fsynced before they count; the head advances only after the batch was published, and is
// saved atomically, so after a crash replay restarts at the first unpublished batch (at worst
// the one being published again: at least once, never lost). Disk use is capped by maxBytes:
// append() refuses when full and the caller must wait (backpressure); space comes back when a
// fully published segment is deleted. Memory holds one frame at a time, whatever the backlog.
import { type FileHandle, mkdir, open, readdir, readFile, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { messageOf, SidecarError } from "../errors.ts";
import type { PackedBatch } from "../sink/batch.ts";
import type { SinkBatch, SinkMessage } from "../sink/sink.ts";
import { syncDir, writeFileAtomic } from "../state/atomic.ts";
import { decodeFrame, decodeFramePacked, encodeFrame, FRAME_HEADER, frameLength } from "./frame.ts";

const SEGMENT = /^(\d{12})\.seg$/;
const HEAD_FILE = "head.json";
const Head = z.object({ segment: z.number().int().min(0), offset: z.number().int().min(0) });

export interface SpoolFrame {
  /** The batch, over the frame's buffer. */
  batch: PackedBatch;
  /** The same as objects (tests). */
  readonly messages: SinkMessage[];
  /** On-disk size of the frame. */
  size: number;
}

export class SpoolQueue {
  readonly dir: string;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  /** Segment ids and sizes, oldest first; the last one is appended to. */
  private segments: { id: number; size: number }[] = [];
  private head = { segment: 0, offset: 0 };
  private tail: FileHandle | undefined;
  private reader: { id: number; fh: FileHandle } | undefined;
  private lock: Promise<unknown> = Promise.resolve();

  private constructor(dir: string, maxBytes: number) {
    this.dir = dir;
    this.maxBytes = maxBytes;
    this.segmentBytes = Math.max(65_536, Math.min(64 * 1_048_576, Math.floor(maxBytes / 8)));
  }

  static async open(dir: string, maxBytes: number): Promise<SpoolQueue> {
    const q = new SpoolQueue(dir, maxBytes);
    try {
      await mkdir(dir, { recursive: true });
      await q.recover();
    } catch (err) {
      throw spoolError(dir, "cannot open", err);
    }
    return q;
  }

  /** Bytes on disk (what maxBytes bounds). */
  get diskBytes(): number {
    return this.segments.reduce((n, s) => n + s.size, 0);
  }

  /** Bytes not yet published. */
  get pendingBytes(): number {
    const first = this.segments[0];
    return first ? this.diskBytes - (first.id === this.head.segment ? this.head.offset : 0) : 0;
  }

  get isEmpty(): boolean {
    return this.pendingBytes === 0;
  }

  /** Appends a batch durably; false when it does not fit now (wait for space). */
  append(batch: SinkBatch): Promise<boolean> {
    return this.exclusive(() => this.appendNow(batch));
  }

  /** The oldest unpublished batch, or undefined when there is none. */
  peek(): Promise<SpoolFrame | undefined> {
    return this.exclusive(() => this.peekNow());
  }

  /** Marks the frame returned by peek() as published; frees whole segments. */
  advance(frame: SpoolFrame): Promise<void> {
    return this.exclusive(() => this.advanceNow(frame));
  }

  // Appends and the replayer's advances run concurrently; a segment must never be deleted
  // while a write to it is in progress, so every operation takes its turn.
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async appendNow(batch: SinkBatch): Promise<boolean> {
    const frame = encodeFrame(batch);
    if (frame.length > this.maxBytes / 2) {
      throw new SidecarError(
        "config",
        `spool ${this.dir}: a batch of ${frame.length} bytes cannot fit a spool of ${this.maxBytes}`,
        { retriable: false },
      );
    }
    if (this.diskBytes + frame.length > this.maxBytes) return false;
    try {
      let last = this.segments.at(-1);
      if (!last || !this.tail || last.size + frame.length > this.segmentBytes) {
        last = await this.roll();
      }
      const tail = this.tail as FileHandle;
      await tail.write(frame, 0, frame.length, last.size);
      await tail.datasync();
      last.size += frame.length;
    } catch (err) {
      throw spoolError(this.dir, "cannot append", err);
    }
    return true;
  }

  private async peekNow(): Promise<SpoolFrame | undefined> {
    this.skipFinished();
    const seg = this.segments.find((s) => s.id === this.head.segment);
    if (!seg || this.head.offset >= seg.size) return undefined;
    try {
      const fh = await this.readerFor(seg.id);
      const header = Buffer.alloc(FRAME_HEADER);
      await fh.read(header, 0, FRAME_HEADER, this.head.offset);
      const len = frameLength(header) ?? 0;
      const frame = Buffer.alloc(FRAME_HEADER + len);
      await fh.read(frame, 0, frame.length, this.head.offset);
      const batch = decodeFramePacked(frame);
      if (!batch) throw new Error(`corrupt frame at ${seg.id}:${this.head.offset}`);
      return {
        batch,
        size: frame.length,
        get messages() {
          return batch.messages();
        },
      };
    } catch (err) {
      throw spoolError(this.dir, "cannot read", err);
    }
  }

  private async advanceNow(frame: SpoolFrame): Promise<void> {
    this.head = { segment: this.head.segment, offset: this.head.offset + frame.size };
    try {
      await this.dropConsumed();
      await writeFileAtomic(join(this.dir, HEAD_FILE), JSON.stringify(this.head));
    } catch (err) {
      throw spoolError(this.dir, "cannot advance", err);
    }
  }

  async close(): Promise<void> {
    await this.tail?.close();
    await this.reader?.fh.close();
    this.tail = undefined;
    this.reader = undefined;
  }

  private async recover(): Promise<void> {
    const ids = (await readdir(this.dir))
      .map((n) => SEGMENT.exec(n)?.[1])
      .filter((m): m is string => m !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    for (const id of ids) this.segments.push({ id, size: (await stat(this.segPath(id))).size });
    const last = this.segments.at(-1);
    if (last) last.size = await this.validLength(last.id, last.size);
    try {
      this.head = Head.parse(JSON.parse(await readFile(join(this.dir, HEAD_FILE), "utf8")));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      this.head = { segment: this.segments[0]?.id ?? 0, offset: 0 };
    }
    // Segments before the head were published; a crash may have left them undeleted.
    await this.dropConsumed();
    if (this.segments.length > 0 && this.head.segment < (this.segments[0]?.id ?? 0)) {
      this.head = { segment: this.segments[0]?.id ?? 0, offset: 0 };
    }
  }

  /** Length of the whole frames at the start of a segment; cuts a torn tail. */
  private async validLength(id: number, size: number): Promise<number> {
    const fh = await open(this.segPath(id), "r+");
    try {
      let at = 0;
      const header = Buffer.alloc(FRAME_HEADER);
      while (at + FRAME_HEADER <= size) {
        await fh.read(header, 0, FRAME_HEADER, at);
        const len = frameLength(header) ?? 0;
        if (at + FRAME_HEADER + len > size) break;
        const frame = Buffer.alloc(FRAME_HEADER + len);
        await fh.read(frame, 0, frame.length, at);
        if (!decodeFrame(frame)) break;
        at += frame.length;
      }
      if (at < size) {
        await fh.truncate(at); // never acknowledged: the append's fsync had not returned
        await fh.sync();
      }
      return at;
    } finally {
      await fh.close();
    }
  }

  private skipFinished(): void {
    const seg = this.segments.find((s) => s.id === this.head.segment);
    const next = this.segments.find((s) => s.id > this.head.segment);
    if ((!seg || this.head.offset >= seg.size) && next && seg !== this.segments.at(-1)) {
      this.head = { segment: next.id, offset: 0 };
    }
  }

  private async dropConsumed(): Promise<void> {
    this.skipFinished();
    while (this.segments.length > 0) {
      const first = this.segments[0] as { id: number; size: number };
      const consumed =
        first.id < this.head.segment ||
        (first.id === this.head.segment && this.head.offset >= first.size);
      if (!consumed) break;
      const isTail = first === this.segments.at(-1);
      if (isTail) {
        await this.tail?.close();
        this.tail = undefined;
      }
      if (this.reader?.id === first.id) {
        await this.reader.fh.close();
        this.reader = undefined;
      }
      await unlink(this.segPath(first.id));
      this.segments.shift();
      if (isTail) this.head = { segment: first.id + 1, offset: 0 };
    }
    await syncDir(this.dir);
  }

  private async roll(): Promise<{ id: number; size: number }> {
    await this.tail?.close();
    const prev = this.segments.at(-1);
    const id = prev ? prev.id + 1 : this.head.segment;
    this.tail = await open(this.segPath(id), "a+");
    const seg = prev?.id === id ? prev : { id, size: 0 };
    if (seg !== prev) this.segments.push(seg);
    await syncDir(this.dir);
    return seg;
  }

  private async readerFor(id: number): Promise<FileHandle> {
    if (this.reader?.id === id) return this.reader.fh;
    await this.reader?.fh.close();
    this.reader = { id, fh: await open(this.segPath(id), "r") };
    return this.reader.fh;
  }

  private segPath(id: number): string {
    return join(this.dir, `${String(id).padStart(12, "0")}.seg`);
  }
}

function spoolError(dir: string, what: string, err: unknown): SidecarError {
  if (err instanceof SidecarError) return err;
  return new SidecarError("io", `spool ${dir}: ${what}: ${messageOf(err)}`, {
    retriable: true,
    cause: err,
  });
}
