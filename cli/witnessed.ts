// `verify --witness TOPIC --witness-keys SPEC`: reads the witness topic (every partition, from
// the start) into the checkpoints the data topic is then held to (entry/verify/rules/witness.ts).
// A message whose cosignature does not verify with a trusted witness key is ignored, with a
// warning: whoever could write it proves nothing by it.
import type { Witnessed } from "../entry/witness.ts";
import { readCosignature, WitnessedBook, WitnessMessageError } from "../entry/witness.ts";
import { type KafkaSource, readTopic } from "./sources.ts";
import { loadTrustedKeys, UsageError } from "./trust.ts";

export async function loadWitnessKeys(spec: string, kubeconfig?: string): Promise<Buffer[]> {
  const keys = await loadTrustedKeys(spec, kubeconfig);
  return keys.map((k) => {
    const raw = Buffer.from(k.publicKey, "base64");
    if (raw.length !== 32) throw new UsageError(`--witness-keys ${spec}: not an Ed25519 key`);
    return raw;
  });
}

export async function readWitnessed(
  src: KafkaSource,
  witnessKeys: readonly Buffer[],
  warn: (message: string) => void,
): Promise<Map<string, Witnessed[]>> {
  const book = new WitnessedBook();
  const ignored = new Map<string, number>();
  let example = "";
  for await (const m of readTopic(src, () => {})) {
    try {
      const { origin, witnessed } = readCosignature(m.value, witnessKeys);
      book.add(origin, witnessed);
    } catch (err) {
      if (!(err instanceof WitnessMessageError)) throw err;
      ignored.set(err.message, (ignored.get(err.message) ?? 0) + 1);
      if (!example) example = m.position;
    }
  }
  for (const [why, n] of ignored)
    warn(`witness topic ${src.topic}: ${n} message(s) ignored (${why}; the first at ${example})`);
  return book.byOrigin;
}
