// The topic's own retention.ms, read from the broker: the one reason the verifier accepts for
// records a trusted state proves existed and the topic no longer has. -1 (keep forever) and a
// topic the client may not describe excuse nothing.
import { type KafkaSource, kafkaConfig } from "./sources.ts";

export async function topicRetentionMs(
  src: KafkaSource,
): Promise<{ ms: number | undefined; problem?: string }> {
  const { Kafka } = (await import("kafkajs")).default;
  const admin = new Kafka(await kafkaConfig(src)).admin();
  await admin.connect();
  try {
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      // 2 = TOPIC (kafkajs' ConfigResourceTypes)
      resources: [{ type: 2, name: src.topic, configNames: ["retention.ms"] }],
    });
    const value = described.resources[0]?.configEntries.find(
      (e) => e.configName === "retention.ms",
    )?.configValue;
    const ms = Number(value);
    return { ms: Number.isSafeInteger(ms) && ms >= 0 ? ms : undefined };
  } catch (err) {
    // DescribeConfigs needs its own ACL: without it, nothing is excused (the safe side).
    return { ms: undefined, problem: (err as Error).message };
  } finally {
    await admin.disconnect();
  }
}
