// The embedded default sink when no Kafka is configured: an append-only JSONL file that
// `auditready verify` reads. One line per message (its value bytes; the key is the record's
// origin, which the record itself carries), fsync once per batch before the ack. A torn last
// line from a crash is cut off at open, so the file always ends on a whole record.
import { type FileHandle, open } from "node:fs/promises";
import { messageOf, SidecarError } from "../errors.ts";
import { batchBytes, type Sink, type SinkAck, type SinkMessage } from "./sink.ts";

export class LedgerSink implements Sink {
  readonly name = "ledger";
  readonly path: string;
  private fh: FileHandle | undefined;

  constructor(path: string) {
    this.path = path;
  }

  async publish(batch: readonly SinkMessage[]): Promise<SinkAck> {
    const parts: Buffer[] = [];
    for (const m of batch) {
      if (m.value.includes(0x0a)) {
        throw new SidecarError("sink", `ledger ${this.path}: a record value contains a newline`, {
          retriable: false,
        });
      }
      parts.push(m.value, NEWLINE);
    }
    try {
      const fh = await this.open();
      await fh.writev(parts);
      await fh.datasync();
    } catch (err) {
      throw new SidecarError("io", `ledger ${this.path}: ${messageOf(err)}`, {
        retriable: true,
        cause: err,
      });
    }
    return { where: "ledger", count: batch.length, bytes: batchBytes(batch) };
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

const NEWLINE = Buffer.from("\n");
