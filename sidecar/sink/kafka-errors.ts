// kafkajs failures mapped onto the sidecar's error kinds. kafkajs wraps the cause of a failed
// retry loop (KafkaJSNumberOfRetriesExceeded.originalError) and of a failed connection; the
// first cause that tells something specific wins, so "topic does not exist" is not reported
// as a generic timeout.
import { messageOf, SidecarError } from "../errors.ts";

const AUTHZ_TYPES = new Set([
  "TOPIC_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
  "GROUP_AUTHORIZATION_FAILED",
]);
const TOO_LARGE_TYPES = new Set(["MESSAGE_TOO_LARGE", "RECORD_LIST_TOO_LARGE"]);
const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|ERR_SSL|EPROTO/;

interface KafkaJsLike {
  name?: string;
  type?: string;
  code?: string | number;
  message?: string;
  originalError?: unknown;
  cause?: unknown;
}

function chain(err: unknown): KafkaJsLike[] {
  const out: KafkaJsLike[] = [];
  let cur: unknown = err;
  while (cur && typeof cur === "object" && out.length < 8) {
    const e = cur as KafkaJsLike;
    out.push(e);
    cur = e.originalError ?? e.cause;
  }
  return out;
}

export function kafkaError(err: unknown, context: string): SidecarError {
  if (err instanceof SidecarError) return err;
  const causes = chain(err);
  const detail = causes.map((c) => c.message ?? "").find((m) => m) ?? messageOf(err);
  const make = (kind: SidecarError["kind"], retriable: boolean, what: string) =>
    new SidecarError(kind, `${context}: ${what}: ${detail}`, { retriable, cause: err });

  for (const c of causes) {
    if (c.name === "KafkaJSSASLAuthenticationError" || c.type === "SASL_AUTHENTICATION_FAILED") {
      return make("auth-failed", false, "SASL authentication failed");
    }
    if (c.type === "UNKNOWN_TOPIC_OR_PARTITION") {
      return make("unknown-topic", true, "topic does not exist");
    }
    if (c.type && AUTHZ_TYPES.has(c.type)) return make("not-authorized", false, "not authorized");
    if (c.type && TOO_LARGE_TYPES.has(c.type)) return make("message-too-large", false, "too large");
    const code = String(c.code ?? "");
    if (TLS_CODES.test(code) || /certificate|SSL routines|TLS/i.test(c.message ?? "")) {
      return make("tls", false, "TLS handshake failed");
    }
  }
  return make("unreachable", true, "broker unreachable");
}
