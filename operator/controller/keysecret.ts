// Keeps the policy key Secret in step with the policy: creates it on first reconcile, rotates it
// when spec.signing.keyRotation changes, and returns the public history for the status and the
// verifiers' ConfigMap. Optimistic concurrency (resourceVersion) means two reconciles can never
// both rotate: the loser gets a conflict and requeues.
// The Secret lives in the OPERATOR's namespace (auditready-key-<ns>-<policy>), not the policy's:
// no pod mounts it, and a namespace admin who can read the workload's Secrets cannot read it.
// A cross-namespace owner reference is not allowed, so it is labelled with its policy instead.
import type { CoreV1Api, V1Secret } from "@kubernetes/client-node";
import { type SigningKey, signingKeyFromPem } from "../../entry/keys.ts";
import type { Policy, SigningKeyStatus } from "../api/policy.ts";
import { KEY_HISTORY, type KeyError, newKey, readKey, rotateHistory } from "../keys.ts";
import { KEY_FILE, POLICY_NAMESPACE_LABEL, policyKeySecretName } from "../names.ts";
import { labelsFor, notFound } from "./objects.ts";

export const ROTATION_ANNOTATION = "auditready.dev/key-rotation";

export interface KeyOutcome {
  history: SigningKeyStatus[];
  event?: { reason: "KeyCreated" | "KeyRotated"; message: string };
}

export async function ensurePolicyKey(
  core: CoreV1Api,
  policy: Policy,
  now: string,
  namespace: string,
): Promise<{ ok: true; value: KeyOutcome } | { ok: false; error: KeyError }> {
  const name = policyKeySecretName(policy.namespace, policy.name);
  const token = policy.spec.signing.keyRotation ?? "";
  let secret: V1Secret | undefined;
  try {
    secret = await core.readNamespacedSecret({ namespace, name });
  } catch (err) {
    if (!notFound(err)) throw err;
  }
  if (!secret) {
    const m = newKey(now);
    await core.createNamespacedSecret({
      namespace,
      body: body(policy, namespace, name, m.privateKeyPem, [m.key], token),
    });
    return {
      ok: true,
      value: {
        history: [m.key],
        event: { reason: "KeyCreated", message: `policy key ${m.key.keyId} created` },
      },
    };
  }
  const { pem, history } = secretContents(secret);
  const current = readKey(pem, history.success ? (history.data[0]?.notBefore ?? now) : now);
  if (!current.ok) return current;
  const known =
    history.success && history.data[0]?.keyId === current.key.keyId ? history.data : [current.key];
  if ((secret.metadata?.annotations?.[ROTATION_ANNOTATION] ?? "") === token) {
    return { ok: true, value: { history: known } };
  }
  const m = newKey(now);
  const rotated = rotateHistory(known, m.key, now);
  const next = body(policy, namespace, name, m.privateKeyPem, rotated, token);
  next.metadata = { ...next.metadata, resourceVersion: secret.metadata?.resourceVersion ?? "" };
  await core.replaceNamespacedSecret({ namespace, name, body: next });
  return {
    ok: true,
    value: {
      history: rotated,
      event: {
        reason: "KeyRotated",
        message: `policy key rotated from ${current.key.keyId} to ${m.key.keyId}`,
      },
    },
  };
}

/** The private key (PEM) and the public history (keys.json) a key Secret holds. */
function secretContents(secret: V1Secret) {
  const text = (key: string, empty: string) =>
    Buffer.from(secret.data?.[key] ?? empty, "base64").toString();
  return {
    pem: text(KEY_FILE, ""),
    history: KEY_HISTORY.safeParse(JSON.parse(text("keys.json", "W10="))),
  };
}

function body(
  policy: Policy,
  namespace: string,
  name: string,
  pem: string,
  history: SigningKeyStatus[],
  token: string,
): V1Secret {
  return {
    metadata: {
      name,
      namespace,
      labels: { ...labelsFor(policy), [POLICY_NAMESPACE_LABEL]: policy.namespace },
      annotations: { [ROTATION_ANNOTATION]: token },
    },
    type: "Opaque",
    data: {
      [KEY_FILE]: Buffer.from(pem).toString("base64"),
      "keys.json": Buffer.from(JSON.stringify(history)).toString("base64"),
    },
  };
}

export type { KeyError };

const KEY_CACHE_MS = 30_000;

/** The policy's signing key and when it became current (its certificates start no earlier). */
export interface CurrentKey {
  signing: SigningKey;
  notBefore: number;
}

/**
 * The current private policy key, for the certify endpoint: read from the Secret, kept for 30 s
 * (a rotation reaches new certificates within that; the old key is still valid meanwhile).
 */
export class PolicyKeys {
  private readonly cache = new Map<string, { at: number; key: CurrentKey }>();
  private readonly core: CoreV1Api;
  private readonly namespace: string;
  constructor(core: CoreV1Api, namespace: string) {
    this.core = core;
    this.namespace = namespace;
  }

  async current(policy: Policy): Promise<CurrentKey | { error: string }> {
    const name = policyKeySecretName(policy.namespace, policy.name);
    const hit = this.cache.get(name);
    if (hit && Date.now() - hit.at < KEY_CACHE_MS) return hit.key;
    let secret: V1Secret;
    try {
      secret = await this.core.readNamespacedSecret({ namespace: this.namespace, name });
    } catch (err) {
      if (notFound(err)) return { error: `the policy key of ${policy.name} is not made yet` };
      throw err;
    }
    try {
      const { pem, history } = secretContents(secret);
      const signing = signingKeyFromPem(pem);
      const entry = history.success
        ? history.data.find((k) => k.keyId === signing.keyId)
        : undefined;
      const key = { signing, notBefore: Date.parse(entry?.notBefore ?? "") || 0 };
      this.cache.set(name, { at: Date.now(), key });
      return key;
    } catch (err) {
      return { error: `the policy key of ${policy.name} is unusable: ${(err as Error).message}` };
    }
  }
}
