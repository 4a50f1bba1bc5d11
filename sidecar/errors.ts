// Errors as values with a kind: every failure the sidecar can meet is one of these kinds, and
// the kind says whether waiting and trying again can help (retriable) or a human or the
// operator must change something first (a password, an ACL, a config field).

export const ERROR_KINDS = [
  "unreachable", // the broker cannot be reached or timed out: retriable
  "unknown-topic", // the topic does not exist (yet): retriable, the operator may create it
  "not-authorized", // authenticated, but an ACL forbids the topic: needs a change
  "auth-failed", // SASL authentication failed (wrong user or password): needs a change
  "tls", // the TLS handshake failed (wrong CA, expired certificate): needs a change
  "message-too-large", // the broker refused a record or batch for its size: needs a change
  "config", // the configuration file is missing or invalid
  "io", // a local file or volume operation failed
  "state", // the persisted state is unreadable or of an unknown version
  "sink", // any other refusal by the sink
  "certify", // the operator did not certify the epoch key (unreachable, or refused)
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export class SidecarError extends Error {
  override readonly name = "SidecarError";
  readonly kind: ErrorKind;
  readonly retriable: boolean;

  constructor(kind: ErrorKind, message: string, options: { retriable: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.retriable = options.retriable;
  }
}

export function isSidecarError(err: unknown): err is SidecarError {
  return err instanceof SidecarError;
}

/** The message of anything thrown, for wrapping into a SidecarError. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
