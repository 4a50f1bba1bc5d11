// The accuracy corpus (test/fixtures/accuracy/<source>/: input.log and options.json), read and
// normalized line by line as the tailer hands lines over (split at \n, bytes as they are).
// Shared by test/unit/accuracy-corpus.test.ts (goldens and cross-checks) and `npm run bench:accuracy` (the report),
// so both judge exactly the same records.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createNormalizer, type Normalized } from "../entry/normalize/normalizer.ts";
import { NormalizeOptions } from "../entry/normalize/options.ts";
import type { KubernetesIdentity } from "../entry/record.ts";

export const CORPUS = new URL("../test/fixtures/accuracy/", import.meta.url).pathname;

const identity: KubernetesIdentity = {
  cluster: "accuracy",
  namespace: "web",
  pod: "edge-0",
  podUid: "00000000-0000-4000-8000-000000000014",
  container: "proxy",
  node: "node-1",
  serviceAccount: "edge",
  policy: "edge",
  policyGeneration: 1,
};

export interface CorpusSource {
  name: string;
  dir: string;
  options: NormalizeOptions;
  /** One result per line of input.log, in order. */
  results: Normalized[];
}

/** The names of the sources under root (each a folder). */
export function corpusSources(root = CORPUS): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

export function normalizeSource(name: string, root = CORPUS): CorpusSource {
  const dir = join(root, name);
  const options = NormalizeOptions.parse(
    JSON.parse(readFileSync(join(dir, "options.json"), "utf8")),
  );
  const normalize = createNormalizer(options, identity);
  const bytes = readFileSync(join(dir, "input.log"));
  const results: Normalized[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0x0a) continue;
    results.push(
      normalize(bytes.subarray(start, i), { file: `/var/log/${name}.log`, offset: start }),
    );
    start = i + 1;
  }
  return { name, dir, options, results };
}
