// The verifier's trust, from where its operator keeps it: policy public keys from a file, or
// from the Secret or ConfigMap the auditready operator writes (data key `keys.json`), and its
// own state from a file it rewrites after each run (write, fsync, rename).
import { open, readFile, rename } from "node:fs/promises";
import {
  emptyTrustedState,
  type TrustedKey,
  TrustedKeysFile,
  TrustedState,
} from "../entry/verify/trust.ts";

export class UsageError extends Error {
  override readonly name = "UsageError";
}

function parseKeys(text: string, where: string): TrustedKey[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${where}: not JSON: ${(err as Error).message}`);
  }
  const parsed = TrustedKeysFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`${where}: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  }
  return parsed.data;
}

/** `file:PATH`, `secret:NAMESPACE/NAME`, `configmap:NAMESPACE/NAME`, or a bare path. */
export async function loadTrustedKeys(spec: string, kubeconfig?: string): Promise<TrustedKey[]> {
  const m = /^(secret|configmap):([^/]+)\/(.+)$/.exec(spec);
  if (!m) {
    const path = spec.replace(/^file:/, "");
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      throw new UsageError(`--keys ${path}: ${(err as Error).message}`);
    }
    return parseKeys(text, path);
  }
  const [, kind, namespace = "", name = ""] = m;
  // Loaded only when needed: the client takes over a second to load, a file source needs none.
  const { CoreV1Api, KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  const core = kc.makeApiClient(CoreV1Api);
  let text: string | undefined;
  try {
    if (kind === "secret") {
      const s = await core.readNamespacedSecret({ namespace, name });
      const b64 = s.data?.["keys.json"];
      text = b64 === undefined ? undefined : Buffer.from(b64, "base64").toString();
    } else {
      text = (await core.readNamespacedConfigMap({ namespace, name })).data?.["keys.json"];
    }
  } catch (err) {
    throw new UsageError(
      `--keys ${spec}: ${(err as { code?: number }).code ?? ""} ${(err as Error).message}`.trim(),
    );
  }
  if (text === undefined) throw new UsageError(`--keys ${spec}: no data key keys.json`);
  return parseKeys(text, spec);
}

export async function loadState(path: string): Promise<TrustedState> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return emptyTrustedState();
    throw new UsageError(`--state ${path}: ${(err as Error).message}`);
  }
  const parsed = TrustedState.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new UsageError(
      `--state ${path}: not a verifier state file (${parsed.error.issues[0]?.message})`,
    );
  return parsed.data;
}

export async function saveState(path: string, state: TrustedState): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(state, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}
