// TLS and SASL material from mounted files (Kubernetes Secrets). Read at every connect, so a
// rotated Secret is picked up without a restart. The values live only in the client's
// options: they are never put into errors, events or logs.
import { readFile } from "node:fs/promises";
import type { ConnectionOptions } from "node:tls";
import type { SASLOptions } from "kafkajs";
import type { z } from "zod";
import type { KafkaSasl, KafkaTls } from "../config/schema.ts";
import { messageOf, SidecarError } from "../errors.ts";

async function readSecretFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    // The path is safe to report; the content never is.
    throw new SidecarError("config", `cannot read ${what} from ${path}: ${messageOf(err)}`, {
      retriable: true,
      cause: err,
    });
  }
}

export async function tlsOptions(
  tls: z.infer<typeof KafkaTls> | undefined,
): Promise<ConnectionOptions | undefined> {
  if (!tls) return undefined;
  const out: ConnectionOptions = { rejectUnauthorized: true };
  if (tls.caFile) out.ca = [await readSecretFile(tls.caFile, "the TLS CA bundle")];
  if (tls.certFile) out.cert = await readSecretFile(tls.certFile, "the TLS client certificate");
  if (tls.keyFile) out.key = await readSecretFile(tls.keyFile, "the TLS client key");
  if (tls.serverName) out.servername = tls.serverName;
  return out;
}

export async function saslOptions(
  sasl: z.infer<typeof KafkaSasl> | undefined,
): Promise<SASLOptions | undefined> {
  if (!sasl) return undefined;
  // Secrets mounted from `kubectl create secret --from-literal` have no newline, files written
  // by hand often do: a trailing newline is never part of a credential.
  const username = (await readSecretFile(sasl.usernameFile, "the SASL username")).replace(
    /\r?\n$/,
    "",
  );
  const password = (await readSecretFile(sasl.passwordFile, "the SASL password")).replace(
    /\r?\n$/,
    "",
  );
  return { mechanism: sasl.mechanism, username, password } as SASLOptions;
}
