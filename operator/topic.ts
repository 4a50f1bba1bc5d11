// Ensures a policy's Kafka topic exists with the retention, replication factor and
// min.insync.replicas its spec asks for, through the kafkajs admin API. Outcomes are values:
// what was done, or a TopicError with a reason for the TopicReady condition. A topic that
// exists with another replication factor is reported, not recreated (that would drop data).
import type { Admin } from "kafkajs";

export interface TopicSpec {
  topic: string;
  retentionDays: number;
  replicas: number;
  minInSync: number;
  partitions: number;
}

export interface TopicError {
  kind: "TopicError";
  reason: "BrokerUnavailable" | "CreateFailed" | "ConfigFailed" | "ReplicasMismatch";
  message: string;
}

export type TopicOutcome =
  | { ok: true; action: "created" | "reconfigured" | "unchanged" }
  | { ok: false; error: TopicError };

const DAY_MS = 86_400_000;

export function topicConfig(spec: TopicSpec): Record<string, string> {
  return {
    "retention.ms": String(spec.retentionDays * DAY_MS),
    "min.insync.replicas": String(spec.minInSync),
    "cleanup.policy": "delete",
  };
}

export async function ensureTopic(admin: Admin, spec: TopicSpec): Promise<TopicOutcome> {
  const want = topicConfig(spec);
  let topics: string[];
  try {
    topics = await admin.listTopics();
  } catch (err) {
    return fail("BrokerUnavailable", `cannot list topics: ${(err as Error).message}`);
  }
  if (!topics.includes(spec.topic)) {
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic: spec.topic,
            numPartitions: spec.partitions,
            replicationFactor: spec.replicas,
            configEntries: Object.entries(want).map(([name, value]) => ({ name, value })),
          },
        ],
      });
      return { ok: true, action: "created" };
    } catch (err) {
      // kafkajs drops the broker's error text; the broker count says what "invalid" meant.
      const brokers = await admin.describeCluster().then(
        (c) => `${c.brokers.length} broker(s) available`,
        () => "broker count unknown",
      );
      return fail(
        "CreateFailed",
        `cannot create topic ${spec.topic} (replication factor ${spec.replicas}, min.insync.replicas ${spec.minInSync}; ${brokers}): ${describe(err)}`,
      );
    }
  }
  try {
    const meta = await admin.fetchTopicMetadata({ topics: [spec.topic] });
    const replicas = meta.topics[0]?.partitions[0]?.replicas.length ?? 0;
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2 /* TOPIC */, name: spec.topic, configNames: Object.keys(want) }],
    });
    const have = Object.fromEntries(
      (described.resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue]),
    );
    const differs = Object.entries(want).filter(([k, v]) => have[k] !== v);
    if (differs.length > 0) {
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: 2,
            name: spec.topic,
            configEntries: Object.entries(want).map(([name, value]) => ({ name, value })),
          },
        ],
      });
    }
    if (replicas !== spec.replicas) {
      return fail(
        "ReplicasMismatch",
        `topic ${spec.topic} exists with replication factor ${replicas}, the policy asks for ${spec.replicas}; reassign partitions to change it`,
      );
    }
    return { ok: true, action: differs.length > 0 ? "reconfigured" : "unchanged" };
  } catch (err) {
    return fail("ConfigFailed", `cannot configure topic ${spec.topic}: ${describe(err)}`);
  }
}

function describe(err: unknown): string {
  const e = err as { message?: string; errors?: { message?: string }[]; type?: string };
  const inner = e.errors
    ?.map((x) => x.message)
    .filter(Boolean)
    .join("; ");
  return inner ? `${e.message ?? e.type}: ${inner}` : String(e.message ?? err);
}

function fail(reason: TopicError["reason"], message: string): TopicOutcome {
  return { ok: false, error: { kind: "TopicError", reason, message } };
}
