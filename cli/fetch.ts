// Reads a fixed range of each partition of a topic by plain Fetch requests to the partitions'
// leaders: no consumer group. Why not kafkajs' consumer:
// - least privilege: the verifier needs Describe and Read on the topic, and no group ACL;
// - no group join (brokers delay a new group's first rebalance, 3 s by default) and no group
//   left behind on the cluster;
// - the range is known (up to the end offsets seen when reading began), so there is nothing to
//   long-poll: a fetch waits at most 100 ms for data, where the consumer's 5 s wait also held
//   up its disconnect at the end of every run;
// - bounded memory: the next fetch is sent only when the previous round was handed over, so
//   at most two rounds (each at most FETCH_BYTES compressed) are in memory at once.
// kafkajs keeps its cluster (connections, metadata, SASL, TLS) behind a private symbol; this
// module uses it and kafkajs' own Fetch request and decoding, so no protocol code lives here.
import type { Kafka } from "kafkajs";

// Compressed bytes asked per partition and per fetch request (one per leader broker). A broker
// answers in whole record batches, at least one per partition however large, so a round holds
// about one sidecar batch (<= 4 MiB of records) per partition. Measured with bench:verify
// (200,000 messages, 3 partitions): 256 KiB per partition read as fast as 1 and 4 MiB (CPU per
// message 6.7 / 7.9 / 9.2 µs) with a peak RSS of 209 MB against 390 and 516 MB.
export const PARTITION_FETCH_BYTES = 256 << 10;
export const FETCH_BYTES = 2 << 20;
const MAX_WAIT_MS = 100;
/** A retriable error (leader moved, broker restarting) is retried for this long. */
const RETRY_FOR_MS = 60_000;

export interface FetchedMessage {
  partition: number;
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
}

interface KafkajsRecord {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  isControlRecord?: boolean;
}

interface FetchResponse {
  responses: {
    topicName: string;
    partitions: { partition: number; messages: KafkajsRecord[] }[];
  }[];
}

interface Broker {
  fetch(request: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: {
      topic: string;
      partitions: { partition: number; fetchOffset: string; maxBytes: number }[];
    }[];
  }): Promise<FetchResponse>;
}

interface Cluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(args: { nodeId: string }): Promise<Broker>;
}

function clusterOf(kafka: Kafka): Cluster {
  const key = Object.getOwnPropertySymbols(kafka).find(
    (s) => s.description === "private:Kafka:createCluster",
  );
  const create = key && (kafka as unknown as Record<symbol, unknown>)[key];
  if (typeof create !== "function")
    throw new Error("this kafkajs version has no cluster to fetch with (expected kafkajs 2.2)");
  return create({ allowAutoTopicCreation: false, maxInFlightRequests: null }) as Cluster;
}

/** READ_UNCOMMITTED: the verifier reads every record the log holds, whatever a reader sees. */
const READ_UNCOMMITTED = 0;

/**
 * Yields the messages of each partition from `starts` up to (not including) `ends`, a round at a
 * time: each round is one fetch per leader, its messages in offset order per partition.
 */
export async function* fetchRange(
  kafka: Kafka,
  topic: string,
  starts: ReadonlyMap<number, bigint>,
  ends: ReadonlyMap<number, bigint>,
): AsyncGenerator<FetchedMessage[]> {
  const next = new Map<number, bigint>();
  for (const [p, end] of ends) {
    const start = starts.get(p) ?? 0n;
    if (end > start) next.set(p, start);
  }
  if (next.size === 0) return;
  const cluster = clusterOf(kafka);
  await cluster.connect();
  try {
    await cluster.addTargetTopic(topic);
    const stalls = new Map<number, { at: bigint; count: number }>();
    let round = fetchRound(cluster, topic, next);
    while (next.size > 0) {
      const responses = await round;
      const messages: FetchedMessage[] = [];
      for (const response of responses)
        for (const t of response.responses) {
          if (t.topicName !== topic) continue;
          for (const { partition, messages: records } of t.partitions) {
            const from = next.get(partition);
            const end = ends.get(partition);
            if (from === undefined || end === undefined) continue;
            let at = from;
            for (const r of records) {
              const offset = BigInt(r.offset);
              // A fetch returns whole record batches: the first may start before `from`.
              if (offset < at || offset >= end) continue;
              at = offset + 1n;
              if (!r.isControlRecord)
                messages.push({ partition, offset, key: r.key, value: r.value });
            }
            if (at >= end) next.delete(partition);
            else if (at === from) stalled(stalls, partition, from);
            else next.set(partition, at);
          }
        }
      // The next round is on its way while this one is handed over.
      if (next.size > 0) {
        round = fetchRound(cluster, topic, next);
        // If the reader stops before awaiting it (an error, a break), the disconnect below
        // fails it: that must not surface as an unhandled rejection.
        round.catch(() => undefined);
      }
      if (messages.length > 0) yield messages;
    }
  } finally {
    await cluster.disconnect();
  }
}

// A fetch with no record at its offset, below the end, means records the broker will not
// give (a batch beyond every size limit, a log the broker cannot read): say so, never spin.
function stalled(
  stalls: Map<number, { at: bigint; count: number }>,
  partition: number,
  at: bigint,
): void {
  const s = stalls.get(partition);
  const count = s && s.at === at ? s.count + 1 : 1;
  stalls.set(partition, { at, count });
  if (count >= 20)
    throw new Error(
      `partition ${partition}: 20 fetches at offset ${at} returned no record although the partition holds more; the broker does not deliver it`,
    );
}

/** One fetch per leader for the partitions still to read, retrying what can be retried. */
async function fetchRound(
  cluster: Cluster,
  topic: string,
  next: ReadonlyMap<number, bigint>,
): Promise<FetchResponse[]> {
  const positions = new Map(next);
  const deadline = Date.now() + RETRY_FOR_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      const byLeader = cluster.findLeaderForPartitions(topic, [...positions.keys()]);
      return await Promise.all(
        Object.entries(byLeader).map(async ([nodeId, partitions]) => {
          const broker = await cluster.findBroker({ nodeId });
          return broker.fetch({
            replicaId: -1,
            isolationLevel: READ_UNCOMMITTED,
            maxWaitTime: MAX_WAIT_MS,
            minBytes: 1,
            maxBytes: FETCH_BYTES,
            topics: [
              {
                topic,
                partitions: partitions.map((partition) => ({
                  partition,
                  fetchOffset: String(positions.get(partition)),
                  maxBytes: PARTITION_FETCH_BYTES,
                })),
              },
            ],
          });
        }),
      );
    } catch (err) {
      const e = err as { retriable?: boolean; type?: string; message?: string };
      if (e.type === "OFFSET_OUT_OF_RANGE")
        throw new Error(
          `${e.message}: retention removed messages of topic ${topic} while they were being read; run verify again (it then starts at the new head, reported as HEAD_TRUNCATED)`,
        );
      if (e.retriable !== true || Date.now() > deadline) throw err;
      // Leadership moved or a broker is restarting: new metadata, then again, backing off.
      await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
      await cluster.refreshMetadata().catch(() => undefined);
    }
  }
}
