// Reads the credentials the operator needs to manage a policy's topic from the same Secrets
// the policy's sidecars mount: tlsSecret (ca.crt) and saslSecret (username, password). A
// missing Secret or key is a CredentialsUnavailable error naming it; values are never logged.
import type { CoreV1Api } from "@kubernetes/client-node";
import type { Policy } from "../api/policy.ts";
import type { KafkaSecurity } from "./kafka.ts";
import { notFound } from "./objects.ts";

export interface CredentialsError {
  kind: "CredentialsUnavailable";
  message: string;
}

export async function readKafkaSecurity(
  core: CoreV1Api,
  policy: Policy,
): Promise<{ ok: true; security: KafkaSecurity } | { ok: false; error: CredentialsError }> {
  const { tlsSecret, saslSecret, saslMechanism } = policy.spec.sink.kafka;
  const security: KafkaSecurity = {};
  const read = async (name: string, keys: string[]) => {
    try {
      const s = await core.readNamespacedSecret({ namespace: policy.namespace, name });
      const values = keys.map((k) =>
        s.data?.[k] ? Buffer.from(s.data[k], "base64").toString() : undefined,
      );
      const missing = keys.filter((_, i) => values[i] === undefined);
      return missing.length > 0
        ? `Secret ${name} has no ${missing.join(", ")}`
        : values.map(String);
    } catch (err) {
      if (notFound(err)) return `Secret ${name} does not exist`;
      throw err;
    }
  };
  if (tlsSecret !== undefined) {
    const r = await read(tlsSecret, ["ca.crt"]);
    if (typeof r === "string") return fail(r);
    security.caPem = r[0] ?? "";
  }
  if (saslSecret !== undefined) {
    const r = await read(saslSecret, ["username", "password"]);
    if (typeof r === "string") return fail(r);
    security.sasl = {
      mechanism: saslMechanism ?? "scram-sha-512",
      username: r[0] ?? "",
      password: r[1] ?? "",
    };
  }
  return { ok: true, security };
}

function fail(message: string): { ok: false; error: CredentialsError } {
  return { ok: false, error: { kind: "CredentialsUnavailable", message } };
}
