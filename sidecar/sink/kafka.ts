// The Kafka sink: kafkajs with an idempotent producer, acks=all, one request in flight (so a
// retried batch cannot overtake the next one), zstd or gzip, TLS and SASL from mounted files. The
// client is rebuilt, re-reading its credentials, after an authentication or TLS failure, so
// a fixed Secret heals the sidecar without a restart. kafkajs retries briefly inside a call;
// longer outages are the caller's (the spool's) to ride out with the one backoff policy.
// kafkajs is required only after kafkajs-fast.ts put its faster internals in the module cache
// (a static import of kafkajs would load it first: ESM links CommonJS imports before it runs).

import { createRequire } from "node:module";
import type { ICustomPartitioner, logCreator, Producer } from "kafkajs";
import type { z } from "zod";
import type { KafkaSink as KafkaSinkConfig } from "../config/schema.ts";
import { SidecarError } from "../errors.ts";
import { type PackedBatch, packed } from "./batch.ts";
import { compressionType, registerCodecs } from "./codecs.ts";
import { saslOptions, tlsOptions } from "./credentials.ts";
import { kafkaError } from "./kafka-errors.ts";
import { kafkajsFastPaths, packedMessages } from "./kafkajs-fast.ts";
import type { Sink, SinkAck, SinkBatch } from "./sink.ts";

export type KafkaSinkSettings = z.infer<typeof KafkaSinkConfig>;

export interface KafkaSinkOptions {
  /** kafkajs' own log lines (never credentials: only namespace, message and broker). */
  log?: (level: "debug" | "info" | "warn" | "error", message: string) => void;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** How long kafkajs retries inside one publish before it reports the failure. */
  retryMs?: number;
}

const kafkajs = createRequire(import.meta.url)("kafkajs") as typeof import("kafkajs");
const { Kafka, logLevel } = kafkajs;
registerCodecs(kafkajs);

/**
 * kafkajs' default (Java-compatible murmur2) partitioner, remembered per key: every message of
 * a stream has the same key, and hashing it for each message cost ~10% of the sidecar's CPU.
 * The mapping is the same, so a stream stays in the partition Java clients would pick.
 */
export const memoizedPartitioner: ICustomPartitioner = () => {
  const base = kafkajs.Partitioners.DefaultPartitioner();
  const memo = new Map<string, number>();
  return (args) => {
    const key = args.message.key;
    if (typeof key !== "string") return base(args);
    const id = `${args.topic}\0${args.partitionMetadata.length}\0${key}`;
    let partition = memo.get(id);
    if (partition === undefined) {
      partition = base(args);
      if (memo.size >= 10_000) memo.clear(); // bounded: one entry per stream in practice
      memo.set(id, partition);
    }
    return partition;
  };
};

const FAST = kafkajsFastPaths === "installed" || kafkajsFastPaths === "already-installed";

const LEVELS = {
  [logLevel.NOTHING]: "debug",
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
} as const;

export class KafkaSink implements Sink {
  readonly name = "kafka";
  private readonly settings: KafkaSinkSettings;
  private readonly opts: KafkaSinkOptions;
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;

  constructor(settings: KafkaSinkSettings, opts: KafkaSinkOptions = {}) {
    this.settings = settings;
    this.opts = opts;
  }

  get topic(): string {
    return this.settings.topic;
  }

  publish(batch: SinkBatch): Promise<SinkAck> {
    return this.publishPacked(packed(batch));
  }

  private async publishPacked(batch: PackedBatch): Promise<SinkAck> {
    try {
      return await this.send(batch);
    } catch (err) {
      // The broker's size limit applies to the (compressed) batch: halve it until it fits, in
      // order. A single record too large stays an error for the caller.
      if (!(err instanceof SidecarError) || err.kind !== "message-too-large" || batch.count < 2) {
        throw err;
      }
      const half = Math.ceil(batch.count / 2);
      const a = await this.publishPacked(batch.slice(0, half));
      const b = await this.publishPacked(batch.slice(half, batch.count));
      return { where: "kafka", count: a.count + b.count, bytes: a.bytes + b.bytes };
    }
  }

  private async send(batch: PackedBatch): Promise<SinkAck> {
    const bytes = batch.bytes;
    try {
      const producer = await this.connect();
      await producer.send({
        topic: this.settings.topic,
        acks: -1,
        compression: compressionType(kafkajs, this.settings.compression),
        // With the fast paths, one message object per run of same-key records (the records are
        // written from the packed buffer); without them, an object per record.
        messages: FAST ? packedMessages(batch) : batch.messages(),
      });
      return { where: "kafka", count: batch.count, bytes };
    } catch (err) {
      const error = kafkaError(err, `kafka topic ${this.settings.topic}`);
      if (error.kind === "auth-failed" || error.kind === "tls" || error.kind === "config") {
        await this.reset(); // next attempt re-reads the mounted credentials
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.reset();
  }

  private connect(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.connecting ??= this.build().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async build(): Promise<Producer> {
    const [ssl, sasl] = await Promise.all([
      tlsOptions(this.settings.tls),
      saslOptions(this.settings.sasl),
    ]);
    const retryMs = this.opts.retryMs ?? 2_000;
    const log = this.opts.log;
    const creator: logCreator =
      () =>
      ({ namespace, level, log: entry }) =>
        log?.(LEVELS[level] ?? "debug", `kafkajs ${namespace}: ${entry.message}`);
    const kafka = new Kafka({
      clientId: this.settings.clientId,
      brokers: this.settings.brokers,
      ...(ssl ? { ssl } : sasl ? { ssl: false } : {}),
      ...(sasl ? { sasl } : {}),
      connectionTimeout: this.opts.connectionTimeoutMs ?? 3_000,
      requestTimeout: this.opts.requestTimeoutMs ?? 10_000,
      // Connection attempts retry briefly here too; the spool owns long outages.
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: Math.max(200, retryMs / 4) },
      logLevel: log ? logLevel.WARN : logLevel.NOTHING,
      logCreator: creator,
    });
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: memoizedPartitioner,
      retry: { retries: 4, initialRetryTime: 100, maxRetryTime: Math.max(200, retryMs / 4) },
    });
    try {
      await producer.connect();
    } catch (err) {
      await producer.disconnect().catch(() => undefined); // the connect error is the news
      throw err;
    }
    this.producer = producer;
    return producer;
  }

  private async reset(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    if (p) await p.disconnect();
  }
}
