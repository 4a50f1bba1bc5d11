// The embedded default sink when no Kafka is configured: an append-only JSONL file that
// `auditready verify` reads. One line per message (its value bytes; the key is the record's
// origin, which the record itself carries), fsync once per batch before the ack. A torn last
// line from a crash is cut off at open, so the file always ends on a whole record.
import { type FileHandle, open } from "node:fs/promises";
import { messageOf, SidecarError } from "../errors.ts";
import { packed } from "./batch.ts";
import type { Sink, SinkAck, SinkBatch } from "./sink.ts";

export class LedgerSink implements Sink {
  readonly name = "ledger";
  readonly path: string;
  private fh: FileHandle | undefined;

  constructor(path: string) {
    this.path = path;
  }

  async publish(input: SinkBatch): Promise<SinkAck> {
    const batch = packed(input);
    // One buffer of lines; a value with a newline of its own shows as one newline too many.
    let size = batch.count;
    for (let i = 0; i < batch.count; i++) size += batch.valueLength(i);
    const lines = Buffer.allocUnsafe(size);
    let at = 0;
    for (let i = 0; i < batch.count; i++) {
      at += batch.copyValue(i, lines, at);
      lines[at++] = 0x0a;
    }
    let newlines = 0;
    for (let nl = lines.indexOf(0x0a); nl !== -1; nl = lines.indexOf(0x0a, nl + 1)) newlines++;
    if (newlines !== batch.count) {
      throw new SidecarError("sink", `ledger ${this.path}: a record value contains a newline`, {
        retriable: false,
      });
    }
    try {
      const fh = await this.open();
      await fh.writev([lines]);
      await fh.datasync();
    } catch (err) {
      throw new SidecarError("io", `ledger ${this.path}: ${messageOf(err)}`, {
        retriable: true,
        cause: err,
      });
    }
    return { where: "ledger", count: batch.count, bytes: batch.bytes };
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }

  private async open(): Promise<FileHandle> {
    if (this.fh) return this.fh;
    const fh = await open(this.path, "a+", 0o640);
    const { size } = await fh.stat();
    if (size > 0) {
      // Cut a torn last line (a crash mid-append): it was never acknowledged.
      const tailLen = Math.min(size, 8 * 1_048_576);
      const tail = Buffer.alloc(tailLen);
      await fh.read(tail, 0, tailLen, size - tailLen);
      const lastNl = tail.lastIndexOf(0x0a);
      if (lastNl === -1 && size > tailLen) {
        await fh.close();
        throw new Error("no record boundary in the last 8 MiB: refusing to guess where to cut");
      }
      if (lastNl !== tailLen - 1) {
        const keep = lastNl === -1 ? size - tailLen : size - tailLen + lastNl + 1;
        await fh.truncate(keep);
        await fh.sync();
      }
    }
    this.fh = fh;
    return fh;
  }
}
