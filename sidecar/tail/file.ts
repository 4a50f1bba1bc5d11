// One open file being read: a plain fd, a read position and a line splitter. Reading goes
// through the fd, never the path, so a file renamed or deleted under us is still read to its
// end. Shrinking below the read position, or a fingerprint that no longer matches, means the
// file was truncated in place (copytruncate): the unread range is reported as a loss and
// reading starts over in a new generation.
import { createHash } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";
import type { LossEvent, SourceFile, TailEvent, TailLine } from "./events.ts";
import { type LineFactory, LineSplitter } from "./lines.ts";

/** The fingerprint covers up to this many leading bytes. */
export const FINGERPRINT_BYTES = 1_024;

export async function fingerprint(
  fh: FileHandle,
  len: number,
): Promise<{ fpLen: number; fpHash: string } | undefined> {
  const buf = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, got);
    if (bytesRead === 0) return undefined; // shorter than the fingerprint: not the same content
    got += bytesRead;
  }
  return { fpLen: len, fpHash: createHash("sha256").update(buf).digest("hex") };
}

export class TailedFile {
  source: SourceFile;
  readonly fh: FileHandle;
  position: number;
  rotated = false;
  deleted = false;
  eof = false;
  lastDataAt = Date.now();
  private splitter: LineSplitter<TailLine>;
  private readonly maxLineBytes: number;
  /** A line as the one object the tailer delivers (no SplitLine copied into a TailLine). */
  private readonly toLine: LineFactory<TailLine> = (
    offset,
    endOffset,
    bytes,
    truncated,
    fullLength,
    fullSha256,
    invalidUtf8,
    unterminated,
  ) => ({
    offset,
    endOffset,
    bytes,
    truncated,
    fullLength,
    fullSha256,
    invalidUtf8,
    unterminated,
    kind: "line",
    source: this.source,
    file: this.source.path,
    inode: this.source.ino,
  });

  constructor(fh: FileHandle, source: SourceFile, position: number, maxLineBytes: number) {
    this.fh = fh;
    this.source = source;
    this.position = position;
    this.maxLineBytes = maxLineBytes;
    this.splitter = new LineSplitter(maxLineBytes, this.toLine);
  }

  get pendingBytes(): number {
    return this.splitter.pendingBytes;
  }

  /**
   * Reads up to `budget` bytes; hands the completed lines of each chunk to `deliver` as soon as
   * the chunk is split (a few hundred lines at a time: they are processed before the next
   * young-generation GC instead of living through several and being promoted).
   */
  async read(
    budget: number,
    chunkBytes: number,
    deliver: (lines: TailEvent[]) => void,
  ): Promise<number> {
    let total = 0;
    while (total < budget) {
      const buf = Buffer.allocUnsafe(chunkBytes);
      const { bytesRead } = await this.fh.read(buf, 0, chunkBytes, this.position);
      if (bytesRead === 0) {
        this.eof = true;
        break;
      }
      this.eof = false;
      const lines: TailEvent[] = [];
      this.splitter.push(buf.subarray(0, bytesRead), this.position, lines as TailLine[]);
      this.position += bytesRead;
      total += bytesRead;
      if (this.position > this.source.seenSize) this.source.seenSize = this.position;
      if (lines.length > 0) deliver(lines);
      // A file reads short only at its end: no second read to find the end.
      if (bytesRead < chunkBytes) {
        this.eof = true;
        break;
      }
    }
    if (total > 0) this.lastDataAt = Date.now();
    return total;
  }

  /** Delivers a held unfinished line (flush timeout, rotation, drain). */
  flush(out: TailEvent[]): void {
    const l = this.splitter.flush();
    if (l) out.push(l);
  }

  /**
   * Checks the fd for truncation: by size (always) and by fingerprint (when `deep`). On
   * truncation first finishes the old content from copytruncate's copy when one is found
   * (`findCopy`: same first bytes, at least as long as read), then pushes the held line and a
   * loss of what is still missing, and starts a new generation at offset 0.
   */
  async checkTruncation(
    deep: boolean,
    out: TailEvent[],
    findCopy?: (source: SourceFile, position: number) => Promise<string | undefined>,
  ): Promise<boolean> {
    const st = await this.fh.stat();
    this.deleted = st.nlink === 0;
    const size = st.size;
    let truncated = size < this.position;
    if (!truncated && deep && this.source.fpLen > 0) {
      const fp = await fingerprint(this.fh, this.source.fpLen);
      truncated = fp?.fpHash !== this.source.fpHash;
    }
    if (!truncated) {
      if (size > this.source.seenSize) this.source.seenSize = size;
      await this.extendFingerprint(size);
      return false;
    }
    const copy = this.source.fpLen > 0 ? await findCopy?.(this.source, this.position) : undefined;
    if (copy) await this.readRest(copy, out);
    this.flush(out);
    const lostFrom = this.position;
    const lostTo = Math.max(this.source.seenSize, lostFrom);
    const fp = await fingerprint(this.fh, Math.min(size, FINGERPRINT_BYTES));
    this.source = {
      ...this.source,
      generation: this.source.generation + 1,
      fpLen: fp?.fpLen ?? 0,
      fpHash: fp?.fpHash ?? EMPTY_SHA256,
      seenSize: size,
    };
    this.position = 0;
    this.splitter = new LineSplitter(this.maxLineBytes, this.toLine);
    if (lostTo > lostFrom) out.push(this.loss("truncated", lostFrom, lostTo));
    return true;
  }

  /** Reads `path` (a copy of this generation) from the read position to its end. */
  private async readRest(path: string, out: TailEvent[]): Promise<void> {
    const fh = await open(path, "r");
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(65_536);
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.position);
        if (bytesRead === 0) break;
        this.splitter.push(buf.subarray(0, bytesRead), this.position, out as TailLine[]);
        this.position += bytesRead;
      }
      if (this.position > this.source.seenSize) this.source.seenSize = this.position;
    } finally {
      await fh.close();
    }
  }

  loss(reason: LossEvent["reason"], lostFrom: number, lostTo: number): LossEvent {
    return {
      kind: "loss",
      file: this.source.path,
      inode: this.source.ino,
      reason,
      lostFrom,
      lostTo,
      source: this.source,
      resumeAt: this.position,
    };
  }

  private async extendFingerprint(size: number): Promise<void> {
    const want = Math.min(size, FINGERPRINT_BYTES);
    if (want <= this.source.fpLen) return;
    const fp = await fingerprint(this.fh, want);
    if (fp) {
      this.source.fpLen = fp.fpLen;
      this.source.fpHash = fp.fpHash;
    }
  }
}

export const EMPTY_SHA256 = createHash("sha256").digest("hex");
