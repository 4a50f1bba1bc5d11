// The narrow interface every destination implements. publish() resolves only when the batch
// is durable at the destination (Kafka acks=all, an fsynced ledger, an fsynced spool segment)
// and rejects with a SidecarError whose kind says what went wrong and whether to retry.
// Batches are published one at a time, in order; a sink may rely on that. A batch is a
// PackedBatch (the outbox's: one buffer, no object per message) or plain messages (tests, the
// spool's replay); a sink must not keep a view of it once publish() has settled.
import { PackedBatch, type SinkBatch } from "./batch.ts";

export type { SinkBatch } from "./batch.ts";

export interface SinkMessage {
  /** The record's origin: it picks the partition, so one stream stays in order. */
  key: string;
  /** The record's canonical bytes: one JSON document, no newline. */
  value: Buffer;
}

export interface SinkAck {
  /** Where the batch is now durable. */
  where: "kafka" | "ledger" | "spool";
  count: number;
  bytes: number;
}

export interface Sink {
  readonly name: string;
  publish(batch: SinkBatch): Promise<SinkAck>;
  close(): Promise<void>;
}

export function batchBytes(batch: SinkBatch): number {
  if (batch instanceof PackedBatch) return batch.bytes;
  let n = 0;
  for (const m of batch) n += m.value.length + Buffer.byteLength(m.key);
  return n;
}
