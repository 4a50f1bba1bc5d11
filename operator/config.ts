// Renders the sidecar's config file (sidecar/config/schema.ts, the shared contract) for a
// policy. One file serves every pod of the policy: pod identity comes from downward-API env.
// The result is validated with the sidecar's own schema, so the operator can never write a
// ConfigMap the sidecar would refuse.
import { stringify } from "yaml";
import { SidecarConfig, type SidecarConfigInput } from "../sidecar/config/schema.ts";
import type { Policy } from "./api/policy.ts";
import { logDirs, sidecarPaths, stateDir } from "./logdirs.ts";
import { CERTIFY_CA_FILE, KAFKA_SASL_DIR, KAFKA_TLS_DIR, TOKEN_FILE } from "./names.ts";

/** Where a sidecar asks the operator to certify its epoch key. */
export interface CertifyEndpoint {
  /** https://<address>:<port>/certify */
  url: string;
  /** The name the serving certificate carries, when the URL holds an address (no DNS needed). */
  serverName?: string;
  /** The CA that signed the serving certificate (PEM). */
  caPem: string;
}

export interface ConfigError {
  kind: "ConfigError";
  message: string;
}

/**
 * `containers` is spec.containers when set, else the app container names seen on the policy's
 * pods (the reconciler passes them; a pod with a new container name updates the ConfigMap).
 */
export function renderSidecarConfig(
  policy: Policy,
  containers: readonly string[],
  certify: CertifyEndpoint,
): { ok: true; config: SidecarConfig; yaml: string } | { ok: false; error: ConfigError } {
  const { spec } = policy;
  const dirs = logDirs(spec);
  const kafka = spec.sink.kafka;
  const input: SidecarConfigInput = {
    version: 1,
    policy: { name: policy.name, namespace: policy.namespace, generation: policy.generation },
    sources: [...new Set(containers)]
      .sort()
      .map((container) => ({ container, paths: sidecarPaths(dirs, container) })),
    normalize: {
      format: spec.source.format,
      ...(spec.source.pattern !== undefined && { pattern: spec.source.pattern }),
      fields: spec.source.fields ?? {},
      required: spec.required ?? [],
      redact: spec.redact ?? [],
      exclude: spec.exclude ?? [],
      ...(spec.source.placeholders !== undefined && { placeholders: spec.source.placeholders }),
      ...(spec.source.trustedProxies !== undefined && {
        trustedProxies: spec.source.trustedProxies,
      }),
      ...(spec.source.maxLineBytes !== undefined && { maxLineBytes: spec.source.maxLineBytes }),
    },
    signing: {
      mode: spec.signing.mode,
      sealEvery: spec.signing.sealEvery,
      heartbeatSeconds: spec.signing.heartbeatSeconds,
      certify: {
        url: certify.url,
        ...(certify.serverName !== undefined && { serverName: certify.serverName }),
        caFile: CERTIFY_CA_FILE,
        tokenFile: TOKEN_FILE,
      },
    },
    sink: {
      kafka: {
        brokers: kafka.brokers,
        topic: kafka.topic,
        ...(kafka.tlsSecret !== undefined && {
          tls: { caFile: `${KAFKA_TLS_DIR}/ca.crt` },
        }),
        ...(kafka.saslSecret !== undefined && {
          sasl: {
            mechanism: kafka.saslMechanism ?? "scram-sha-512",
            usernameFile: `${KAFKA_SASL_DIR}/username`,
            passwordFile: `${KAFKA_SASL_DIR}/password`,
          },
        }),
      },
    },
    stateDir: stateDir(dirs),
  };
  const parsed = SidecarConfig.safeParse(input);
  if (!parsed.success) {
    return {
      ok: false,
      error: {
        kind: "ConfigError",
        message: parsed.error.issues
          .map((i) => `${i.path.map(String).join(".")}: ${i.message}`)
          .join("; "),
      },
    };
  }
  return { ok: true, config: parsed.data, yaml: stringify(input, { lineWidth: 0 }) };
}
