// Splits a byte stream into lines, pure and allocation-light: a line is a view into the chunk
// it ends in, copied only when it spans chunks. Guarantees: every byte of the stream belongs
// to exactly one line (newline excluded) and each line carries its byte range; a line longer
// than the limit is still delivered (truncated at a character boundary, flagged, with its full
// length and the SHA-256 of the whole line) so memory stays bounded and nothing is dropped;
// invalid UTF-8 is flagged, never replaced, because the bytes are the evidence.
import { isUtf8 } from "node:buffer";
import { createHash, type Hash } from "node:crypto";

export interface SplitLine {
  /** Byte offset of the line's first byte in the file. */
  offset: number;
  /** Byte offset just past the line's newline (or its last byte when unterminated). */
  endOffset: number;
  /** The line without its newline; at most maxLineBytes. */
  bytes: Buffer;
  /** true when the line was longer than maxLineBytes and `bytes` is its beginning. */
  truncated: boolean;
  /** Length of the whole line in bytes, without the newline. */
  fullLength: number;
  /** SHA-256 of the whole line, present when truncated (the record can still commit to it). */
  fullSha256: Buffer | undefined;
  /** true when `bytes` is not valid UTF-8 (delivered as is). */
  invalidUtf8: boolean;
  /** true when the line had no newline and was taken at a flush (timeout, drain, rotation). */
  unterminated: boolean;
}

const NEWLINE = 0x0a;

/**
 * Makes the object for one line (SplitLine's fields in its order): the tailer builds its
 * TailLine here directly, so a line is one object, not a SplitLine plus a copy.
 */
export type LineFactory<L extends SplitLine> = (
  offset: number,
  endOffset: number,
  bytes: Buffer,
  truncated: boolean,
  fullLength: number,
  fullSha256: Buffer | undefined,
  invalidUtf8: boolean,
  unterminated: boolean,
) => L;

const splitLine: LineFactory<SplitLine> = (
  offset,
  endOffset,
  bytes,
  truncated,
  fullLength,
  fullSha256,
  invalidUtf8,
  unterminated,
) => ({ offset, endOffset, bytes, truncated, fullLength, fullSha256, invalidUtf8, unterminated });

export class LineSplitter<L extends SplitLine = SplitLine> {
  private readonly maxLineBytes: number;
  private readonly make: LineFactory<L>;
  private parts: Buffer[] = [];
  private kept = 0; // bytes held in parts (<= maxLineBytes)
  private pendingLength = 0; // bytes of the pending line seen so far
  private pendingStart = 0;
  private hash: Hash | undefined; // only for a pending line past the limit

  constructor(maxLineBytes: number, make?: LineFactory<L>) {
    if (maxLineBytes < 4) throw new RangeError("maxLineBytes must be at least 4");
    this.maxLineBytes = maxLineBytes;
    this.make = make ?? (splitLine as unknown as LineFactory<L>);
  }

  /** Bytes of an unfinished line held since `pendingOffset`. */
  get pendingBytes(): number {
    return this.pendingLength;
  }

  get pendingOffset(): number {
    return this.pendingStart;
  }

  /** Feeds `chunk`, which starts at file offset `base`; returns the lines it completes. */
  push(chunk: Buffer, base: number, out: L[] = []): L[] {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) {
        if (start < chunk.length) this.hold(chunk.subarray(start), base + start);
        return out;
      }
      if (this.pendingLength > 0) {
        this.hold(chunk.subarray(start, nl), base + start);
        out.push(this.takePending(base + nl + 1, false));
      } else {
        out.push(this.whole(chunk.subarray(start, nl), base + start, base + nl + 1));
      }
      start = nl + 1;
    }
  }

  /** The pending unfinished line as an unterminated line, if any. */
  flush(): L | undefined {
    if (this.pendingLength === 0) return undefined;
    return this.takePending(this.pendingStart + this.pendingLength, true);
  }

  /** Forgets a pending line (the file was truncated under it). */
  reset(): void {
    this.parts = [];
    this.kept = 0;
    this.pendingLength = 0;
    this.hash = undefined;
  }

  private whole(bytes: Buffer, offset: number, endOffset: number): L {
    if (bytes.length <= this.maxLineBytes) {
      return this.line(offset, endOffset, bytes, bytes.length, undefined, false);
    }
    const fullSha256 = createHash("sha256").update(bytes).digest();
    const cut = withoutSplitChar(bytes.subarray(0, this.maxLineBytes));
    return this.line(offset, endOffset, cut, bytes.length, fullSha256, false);
  }

  private line(
    offset: number,
    endOffset: number,
    bytes: Buffer,
    fullLength: number,
    fullSha256: Buffer | undefined,
    unterminated: boolean,
  ): L {
    return this.make(
      offset,
      endOffset,
      bytes,
      fullSha256 !== undefined,
      fullLength,
      fullSha256,
      !isUtf8(bytes),
      unterminated,
    );
  }

  private hold(bytes: Buffer, offset: number): void {
    if (this.pendingLength === 0) this.pendingStart = offset;
    this.pendingLength += bytes.length;
    if (this.hash) {
      this.hash.update(bytes);
      return;
    }
    if (this.kept + bytes.length <= this.maxLineBytes) {
      this.parts.push(bytes);
      this.kept += bytes.length;
      return;
    }
    // Past the limit: keep the prefix, hash everything from here on.
    this.hash = createHash("sha256");
    for (const p of this.parts) this.hash.update(p);
    this.hash.update(bytes);
    this.parts.push(bytes.subarray(0, this.maxLineBytes - this.kept));
    this.kept = this.maxLineBytes;
  }

  private takePending(endOffset: number, unterminated: boolean): L {
    const joined = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts);
    const truncated = this.hash !== undefined;
    const bytes = truncated ? withoutSplitChar(joined) : joined;
    const out = this.line(
      this.pendingStart,
      endOffset,
      bytes,
      this.pendingLength,
      this.hash?.digest(),
      unterminated,
    );
    this.parts = [];
    this.kept = 0;
    this.pendingLength = 0;
    this.hash = undefined;
    return out;
  }
}

/** `bytes` without a UTF-8 sequence that the truncation cut in two at its end. */
function withoutSplitChar(bytes: Buffer): Buffer {
  for (let i = bytes.length - 1; i >= 0 && i >= bytes.length - 3; i--) {
    const b = bytes[i] as number;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back
    if (b < 0xc0) return bytes; // ASCII (or stray byte): nothing was cut
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    return i + need > bytes.length ? bytes.subarray(0, i) : bytes;
  }
  return bytes;
}
