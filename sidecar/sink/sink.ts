// The narrow interface every destination implements. publish() resolves only when the batch
// is durable at the destination (Kafka acks=all, an fsynced ledger, an fsynced spool segment)
// and rejects with a SidecarError whose kind says what went wrong and whether to retry.
// Batches are published one at a time, in order; a sink may rely on that.

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
  publish(batch: readonly SinkMessage[]): Promise<SinkAck>;
  close(): Promise<void>;
}

export function batchBytes(batch: readonly SinkMessage[]): number {
  let n = 0;
  for (const m of batch) n += m.value.length + Buffer.byteLength(m.key);
  return n;
}
