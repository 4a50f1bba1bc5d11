// `auditready verify --follow`: the witness. It reads the policy's topic continuously by plain
// fetches (cli/fetch.ts: no consumer group, Read and Describe on the topic only), verifies each
// round of new messages against what earlier rounds verified (entry/verify/follow.ts), cosigns
// every checkpoint it verified (entry/cosignature.ts) and publishes the cosignatures to its own
// witness topic, which nothing on the data path may write. Each round it logs one line (read,
// lag, streams, cosigned, findings) and, every --status-every seconds at most, writes the
// policy's status.integrity (STALE included). Replica i of n follows the partitions p with
// p % n == i; a stream's records share a key, so a partition, so one replica.
import { readFile } from "node:fs/promises";
import type { Kafka, Producer } from "kafkajs";
import { type SigningKey, signingKeyFromPem } from "../entry/keys.ts";
import { FollowVerifier } from "../entry/verify/follow.ts";
import type { InputMessage } from "../entry/verify/ingest.ts";
import type { TrustedKey } from "../entry/verify/trust.ts";
import { cosignatureMessage } from "../entry/witness.ts";
import { fetchRange } from "./fetch.ts";
import { type KafkaSource, kafkaConfig } from "./sources.ts";
import { integrityOf, type PolicyRef, writeIntegrity, writeShardIntegrity } from "./status.ts";
import { UsageError } from "./trust.ts";

export const FOLLOW_HELP = `Usage: auditready verify --follow --brokers LIST --topic T --keys KEYS --witness-key FILE [options]

The witness: follows the topic, verifies checkpoints as they arrive and cosigns each one it
verified (C2SP tlog-cosignature v1, Ed25519) on its own witness topic, keyed by origin. Runs
until SIGTERM or SIGINT. Connection, --keys, --grace and --status as for verify.

  --witness-key FILE        the witness's Ed25519 private key, PKCS#8 PEM
                            (auditready keys generate --out FILE makes one)
  --witness-name NAME       its name in cosignature lines (default auditready-witness/<key id>)
  --witness TOPIC           where cosignatures go (default <topic>.witness); it must exist, and
                            only the witness may write it
  --replica I --replicas N  follow only partitions p with p % N == I (default 0 of 1); with
                            --replicas alone, I is the ordinal at the end of $POD_NAME or
                            $HOSTNAME (a StatefulSet's pod-2 is replica 2)
  --interval SECONDS        pause between rounds when caught up (default 5)
  --status-every SECONDS    write --status at most this often (default 10)
  --round-messages N        messages verified per round at most (default 100000)
`;

export interface FollowConfig {
  source: KafkaSource;
  witnessTopic: string;
  trustedKeys: TrustedKey[];
  witnessKey: SigningKey;
  witnessName: string;
  replica: number;
  replicas: number;
  graceMs: number;
  intervalMs: number;
  statusEveryMs: number;
  roundMessages: number;
  status?: { ref: PolicyRef; kubeconfig?: string };
  log: (line: string) => void;
  signal: AbortSignal;
}

export async function loadWitnessKey(path: string): Promise<SigningKey> {
  try {
    return signingKeyFromPem(await readFile(path, "utf8"));
  } catch (err) {
    throw new UsageError(`--witness-key ${path}: ${(err as Error).message}`);
  }
}

/** --replica, or the ordinal a StatefulSet gives its pod (name-<i>). */
export function replicaOf(replica: string | undefined, replicas: number, podName?: string): number {
  const text = replica ?? (replicas > 1 ? /-(\d+)$/.exec(podName ?? "")?.[1] : "0");
  const i = Number(text);
  if (text === undefined || !Number.isInteger(i) || i < 0 || i >= replicas)
    throw new UsageError(
      `--replica: expected 0..${replicas - 1}${replica === undefined ? ` (from the pod name ${podName ?? "(none)"})` : `, got ${replica}`}`,
    );
  return i;
}

async function kafkaOf(src: KafkaSource): Promise<Kafka> {
  const [kafkajs, { registerCodecs }] = await Promise.all([
    import("kafkajs").then((m) => m.default),
    import("../sidecar/sink/codecs.ts"),
  ]);
  registerCodecs(kafkajs);
  return new kafkajs.Kafka({ ...(await kafkaConfig(src)), clientId: "auditready-witness" });
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

export async function runFollow(cfg: FollowConfig): Promise<number> {
  const kafka = await kafkaOf(cfg.source);
  const admin = kafka.admin();
  // Not idempotent: that needs a cluster-wide IdempotentWrite ACL. A cosignature sent twice
  // (a retry) is the same statement twice; readers keep the largest per stream and epoch.
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
  await admin.connect();
  await producer.connect();
  const follower = new FollowVerifier({ trustedKeys: cfg.trustedKeys, graceMs: cfg.graceMs });
  const topic = cfg.source.topic;
  const next = new Map<number, bigint>();
  let lastStatus = 0;
  let round = 0;
  try {
    while (!cfg.signal.aborted) {
      round++;
      const offsets = await admin.fetchTopicOffsets(topic);
      const ends = new Map<number, bigint>();
      for (const o of offsets) {
        if (o.partition % cfg.replicas !== cfg.replica) continue;
        ends.set(o.partition, BigInt(o.high));
        // From the head at the start; past it when retention removed what was not read yet
        // (the streams concerned then show the loss as a GAP).
        const low = BigInt(o.low);
        if ((next.get(o.partition) ?? -1n) < low) next.set(o.partition, low);
      }
      const batch: InputMessage[] = [];
      for await (const fetched of fetchRange(kafka, topic, next, ends)) {
        for (const m of fetched) {
          next.set(m.partition, m.offset + 1n);
          if (m.value)
            batch.push({
              key: m.key?.toString(),
              value: m.value,
              position: `partition ${m.partition} offset ${m.offset}`,
            });
        }
        if (batch.length >= cfg.roundMessages || cfg.signal.aborted) break;
      }
      const now = Date.now();
      const { report, verified } = follower.round(batch, now);
      const time = Math.floor(now / 1000);
      const out = verified.map((v) => ({
        v,
        m: cosignatureMessage(v.note, cfg.witnessKey, cfg.witnessName, time),
      }));
      if (out.length > 0) {
        await producer.send({
          topic: cfg.witnessTopic,
          acks: -1,
          messages: out.map(({ m }) => ({ key: m.key, value: m.value })),
        });
        for (const { v } of out) {
          const genesis = report.state.origins[v.origin]?.trees.find((t) => t.size === v.size);
          if (genesis) follower.markCosigned(v.origin, genesis.genesis, v.size);
        }
      }
      let lag = 0n;
      for (const [p, end] of ends) lag += end - (next.get(p) ?? 0n);
      cfg.log(
        JSON.stringify({
          witness: cfg.witnessName,
          round,
          read: batch.length,
          lag: Number(lag),
          streams: report.streams.length,
          cosigned: out.map(({ v }) => `${v.origin}@${v.size}`),
          errors: report.counts.error,
          warnings: report.counts.warning,
        }),
      );
      if (cfg.status && now - lastStatus >= cfg.statusEveryMs) {
        lastStatus = now;
        const source = `topic ${topic} (witness ${cfg.witnessName}, partitions %${cfg.replicas}=${cfg.replica})`;
        const mine = integrityOf(report, source, new Date(now));
        // One replica writes the whole; several write a shard each and the sum of all.
        await (cfg.replicas > 1
          ? writeShardIntegrity(
              cfg.status.ref,
              { i: cfg.replica, n: cfg.replicas },
              mine,
              3 * cfg.statusEveryMs + cfg.intervalMs,
              cfg.status.kubeconfig,
            )
          : writeIntegrity(cfg.status.ref, mine, cfg.status.kubeconfig)
        ).catch((err: Error) => cfg.log(JSON.stringify({ statusError: err.message })));
      }
      if (lag === 0n) await sleep(cfg.intervalMs, cfg.signal);
    }
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
  return 0;
}
