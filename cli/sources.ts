// Where `auditready verify` reads messages from: a JSONL ledger (one message's bytes per line,
// as the sidecar's ledger sink writes them) or a Kafka topic (every partition, from the start
// or from a time, up to the end offsets seen when reading began). Both yield the messages in
// store order with a position for findings, and report progress.
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import type { KafkaConfig, SASLOptions } from "kafkajs";
import type { InputMessage } from "../entry/verify/ingest.ts";
import { fetchRange } from "./fetch.ts";

export type Progress = (read: number, total: number | undefined) => void;

export async function* readLedger(path: string, progress: Progress): AsyncGenerator<InputMessage> {
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  let carry = Buffer.alloc(0);
  let line = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    let start = 0;
    for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, start)) {
      line++;
      if (i > start) yield { value: buf.subarray(start, i), position: `line ${line}` };
      start = i + 1;
      if (line % 50_000 === 0) progress(line, undefined);
    }
    carry = Buffer.from(buf.subarray(start));
  }
  if (carry.length > 0) yield { value: carry, position: `line ${line + 1} (no final newline)` };
}

export interface KafkaSource {
  brokers: string[];
  topic: string;
  /** Start at the first offset at or after this time instead of the beginning. */
  fromTime?: number;
  tls?: { caFile?: string };
  sasl?: {
    mechanism: "plain" | "scram-sha-256" | "scram-sha-512";
    username: string;
    passwordFile: string;
  };
}

export async function kafkaConfig(src: KafkaSource): Promise<KafkaConfig> {
  const ssl = src.tls
    ? { ca: src.tls.caFile ? [await readFile(src.tls.caFile, "utf8")] : undefined }
    : undefined;
  let sasl: SASLOptions | undefined;
  if (src.sasl) {
    const password = (await readFile(src.sasl.passwordFile, "utf8")).trim();
    sasl = { mechanism: src.sasl.mechanism, username: src.sasl.username, password } as SASLOptions;
  }
  return {
    clientId: "auditready-verify",
    brokers: src.brokers,
    logLevel: 0, // logLevel.NOTHING: findings and errors are reported by the verifier itself
    ...(ssl ? { ssl } : {}),
    ...(sasl ? { sasl } : {}),
  };
}

export async function* readTopic(
  src: KafkaSource,
  progress: Progress,
): AsyncGenerator<InputMessage> {
  // Loaded only for a topic: a ledger file needs no Kafka client. The sidecar's codecs (zstd,
  // which kafkajs lacks) are registered on kafkajs' CommonJS exports, the default import.
  const [kafkajs, { registerCodecs }] = await Promise.all([
    import("kafkajs").then((m) => m.default),
    import("../sidecar/sink/codecs.ts"),
  ]);
  registerCodecs(kafkajs);
  const { Kafka } = kafkajs;
  const kafka = new Kafka(await kafkaConfig(src));
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  let starts: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(src.topic);
    ends = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
    starts = new Map(offsets.map((o) => [o.partition, BigInt(o.low)]));
    if (src.fromTime !== undefined) {
      for (const o of await admin.fetchTopicOffsetsByTimestamp(src.topic, src.fromTime)) {
        const at = BigInt(o.offset);
        starts.set(o.partition, at < 0n ? (ends.get(o.partition) ?? 0n) : at);
      }
    }
  } finally {
    await admin.disconnect();
  }
  const total = [...ends].reduce((n, [p, end]) => n + Number(end - (starts.get(p) ?? 0n)), 0);
  let read = 0;
  for await (const round of fetchRange(kafka, src.topic, starts, ends)) {
    for (const m of round) {
      if (m.value)
        yield {
          key: m.key?.toString(),
          value: m.value,
          position: `partition ${m.partition} offset ${m.offset}`,
        };
    }
    read += round.length;
    progress(read, total);
  }
}
