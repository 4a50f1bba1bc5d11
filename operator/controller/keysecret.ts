// Keeps the policy key Secret (auditready-<policy>-key) in step with the policy: creates it on
// first reconcile, rotates it when spec.signing.keyRotation changes, and returns the public
// history for the status and the verifiers' ConfigMap. Optimistic concurrency (resourceVersion)
// means two reconciles can never both rotate: the loser gets a conflict and requeues.
import type { CoreV1Api, V1Secret } from "@kubernetes/client-node";
import type { Policy, SigningKeyStatus } from "../api/policy.ts";
import { KEY_HISTORY, type KeyError, newKey, readKey, rotateHistory } from "../keys.ts";
import { KEY_FILE, keySecretName } from "../names.ts";
import { labelsFor, notFound, ownerReference } from "./objects.ts";

export const ROTATION_ANNOTATION = "auditready.dev/key-rotation";

export interface KeyOutcome {
  history: SigningKeyStatus[];
  event?: { reason: "KeyCreated" | "KeyRotated"; message: string };
}

export async function ensurePolicyKey(
  core: CoreV1Api,
  policy: Policy,
  now: string,
): Promise<{ ok: true; value: KeyOutcome } | { ok: false; error: KeyError }> {
  const namespace = policy.namespace;
  const name = keySecretName(policy.name);
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
      body: body(policy, name, m.privateKeyPem, [m.key], token),
    });
    return {
      ok: true,
      value: {
        history: [m.key],
        event: { reason: "KeyCreated", message: `policy key ${m.key.keyId} created` },
      },
    };
  }
  const pem = Buffer.from(secret.data?.[KEY_FILE] ?? "", "base64").toString();
  const history = KEY_HISTORY.safeParse(
    JSON.parse(Buffer.from(secret.data?.["keys.json"] ?? "W10=", "base64").toString()),
  );
  const current = readKey(pem, history.success ? (history.data[0]?.notBefore ?? now) : now);
  if (!current.ok) return current;
  const known =
    history.success && history.data[0]?.keyId === current.key.keyId ? history.data : [current.key];
  if ((secret.metadata?.annotations?.[ROTATION_ANNOTATION] ?? "") === token) {
    return { ok: true, value: { history: known } };
  }
  const m = newKey(now);
  const rotated = rotateHistory(known, m.key, now);
  const next = body(policy, name, m.privateKeyPem, rotated, token);
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

function body(
  policy: Policy,
  name: string,
  pem: string,
  history: SigningKeyStatus[],
  token: string,
): V1Secret {
  return {
    metadata: {
      name,
      namespace: policy.namespace,
      labels: labelsFor(policy),
      annotations: { [ROTATION_ANNOTATION]: token },
      ownerReferences: [ownerReference(policy)],
    },
    type: "Opaque",
    data: {
      [KEY_FILE]: Buffer.from(pem).toString("base64"),
      "keys.json": Buffer.from(JSON.stringify(history)).toString("base64"),
    },
  };
}

export type { KeyError };
