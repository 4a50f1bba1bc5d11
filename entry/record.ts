// The audit record: one zod schema for every message a stream carries. Leaf records (`log`,
// `epoch-start`, `heartbeat`, `key-rotate`, `epoch-end`, `gap`) are the leaves of the stream's
// Merkle tree, `seq` their index and `prev` the previous leaf's hash. `checkpoint` messages are
// not leaves: they carry the signed note that seals the tree up to a size.
// Leaf records hold no wall-clock time of their own except where the type is about time
// (heartbeat, epoch and key events): the same line at the same offset and stream state gives the
// same bytes, so a replay after a crash is recognisable as one.
import { z } from "zod";

/** A SHA-256 digest in lowercase hex, as records write `prev` and `lineHash`. */
export const HEX64 = /^[0-9a-f]{64}$/;
const hex64 = z.string().regex(HEX64, "a SHA-256 hex digest");
const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, "base64");
const keyId = z.string().regex(/^[0-9a-f]{16}$/, "a 16-hex-digit key id");
const rfc3339 = z.iso
  .datetime({ offset: false, precision: 3 })
  .describe("RFC 3339 UTC with milliseconds");
/** RFC 3339 in UTC with at least second and at most nanosecond precision. */
const eventTime = z
  .string()
  .regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/, "RFC 3339 UTC time");
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const Outcome = z.enum(["success", "failure", "unknown"]);

export const KubernetesIdentity = z
  .object({
    cluster: z.string(),
    namespace: z.string(),
    pod: z.string(),
    podUid: z.string(),
    container: z.string(),
    node: z.string(),
    serviceAccount: z.string(),
    policy: z.string(),
    policyGeneration: count,
  })
  .strict();
export type KubernetesIdentity = z.infer<typeof KubernetesIdentity>;

export const AuditEvent = z
  .object({
    who: z
      .object({
        actor: z.string().optional(),
        actorType: z.string().optional(),
        roles: z.array(z.string()).optional(),
      })
      .strict(),
    what: z.object({ action: z.string().optional(), resource: z.string().optional() }).strict(),
    when: z.object({ time: eventTime.optional() }).strict(),
    where: z
      .object({
        sourceIp: z.string().optional(),
        forwardedFor: z
          .array(z.string())
          .optional()
          .describe(
            "Every hop of a forwarded chain, client side first, when the line had more than one.",
          ),
        userAgent: z.string().optional(),
        requestId: z.string().optional(),
      })
      .strict(),
    result: z.object({ outcome: Outcome, statusCode: z.number().int().optional() }).strict(),
    k8s: KubernetesIdentity,
    source: z
      .object({
        file: z.string(),
        offset: count.describe("Byte offset of the line's first byte in the file."),
        length: count.describe("Length in bytes of the original line, without its newline."),
        lineHash: hex64.describe(
          "SHA-256 of the original line bytes, before redaction or truncation.",
        ),
      })
      .strict(),
    raw: z.string().describe("The line after redaction; truncated to the policy's limit."),
    rawTruncated: z.literal(true).optional(),
    violations: z.array(z.string()),
    redactions: z.array(z.string()),
  })
  .strict();
export type AuditEvent = z.infer<typeof AuditEvent>;

/** The pod a key is certified for, as the operator read it from the API server. */
export const CertSubject = z
  .object({
    cluster: z.string(),
    namespace: z.string(),
    pod: z.string(),
    podUid: z.string().min(1),
    serviceAccount: z.string(),
    node: z.string(),
    policy: z.string(),
  })
  .strict();
export type CertSubject = z.infer<typeof CertSubject>;

/**
 * An epoch key certified by the long-term policy key, which only the operator holds: the
 * operator signs it for one stream (origin and epoch) of one pod (by UID) after checking the
 * pod's projected ServiceAccount token, for a short validity. `sig` is the policy key's
 * Ed25519 signature over JCS of every other field.
 */
export const KeyCert = z
  .object({
    key: b64.describe("Raw Ed25519 public key of the epoch."),
    keyId,
    origin: z.string(),
    epoch: count,
    container: z.string().describe("The app container whose log the stream carries."),
    subject: CertSubject,
    notBefore: rfc3339.describe("Not before the pod existed, nor before the key was made."),
    notAfter: rfc3339.describe("Checkpoints signed by the key after this time are not valid."),
    policyKeyId: keyId,
    sig: b64,
  })
  .strict();
export type KeyCert = z.infer<typeof KeyCert>;

/** The public half of an epoch key, as the leaf that introduces it names it. */
export const EpochKey = z.object({ keyId, key: b64.describe("Raw Ed25519 public key.") }).strict();
export type EpochKey = z.infer<typeof EpochKey>;

const leafBase = {
  v: z.literal(1),
  origin: z.string().min(1),
  epoch: count,
  seq: count,
  prev: hex64.nullable().describe("Leaf hash of seq-1; null for the first leaf of a tree."),
};

export const LogRecord = z
  .object({ ...leafBase, type: z.literal("log"), event: AuditEvent })
  .strict();
export const EpochStartRecord = z
  .object({
    ...leafBase,
    type: z.literal("epoch-start"),
    time: rfc3339,
    key: EpochKey.describe("The epoch key; its certificate travels in a key-cert message."),
    heartbeatMs: count.describe("How often this stream promises a checkpoint when idle."),
    link: z
      .object({
        epoch: count,
        checkpoint: z.string().describe("The last checkpoint of the previous epoch, as saved."),
      })
      .strict()
      .nullable(),
  })
  .strict();
export const HeartbeatRecord = z
  .object({ ...leafBase, type: z.literal("heartbeat"), time: rfc3339 })
  .strict();
export const KeyRotateRecord = z
  .object({ ...leafBase, type: z.literal("key-rotate"), time: rfc3339, key: EpochKey })
  .strict();
export const EpochEndRecord = z
  .object({ ...leafBase, type: z.literal("epoch-end"), time: rfc3339, reason: z.string() })
  .strict();
export const GapReason = z.enum([
  "truncated",
  "inode-reused",
  "deleted-unread",
  "spool-overflow",
  "line-unreadable",
  "file-unreadable",
]);
export const GapRecord = z
  .object({
    ...leafBase,
    type: z.literal("gap"),
    time: rfc3339,
    reason: GapReason,
    file: z.string(),
    lostFrom: count.describe("First byte offset known lost."),
    lostTo: count.describe("Byte offset after the last byte known lost."),
    detail: z.string().optional(),
  })
  .strict();

export const LeafRecord = z.discriminatedUnion("type", [
  LogRecord,
  EpochStartRecord,
  HeartbeatRecord,
  KeyRotateRecord,
  EpochEndRecord,
  GapRecord,
]);
export type LeafRecord = z.infer<typeof LeafRecord>;
export type LogRecord = z.infer<typeof LogRecord>;
export type EpochStartRecord = z.infer<typeof EpochStartRecord>;
export type KeyRotateRecord = z.infer<typeof KeyRotateRecord>;
export type GapRecord = z.infer<typeof GapRecord>;
export type LeafType = LeafRecord["type"];

export const CheckpointMessage = z
  .object({
    v: z.literal(1),
    type: z.literal("checkpoint"),
    origin: z.string().min(1),
    epoch: count,
    note: z.string().describe("The C2SP signed note: origin, size, root, epoch, time, signatures."),
    range: z
      .object({ size: count, hashes: z.array(b64) })
      .strict()
      .optional()
      .describe(
        "Compact range at the checkpoint's size, in an epoch's first checkpoint and then every 1,000 leaves: lets a verifier that trusts the key continue after the head of the topic expired. Checked against the signed root, never trusted.",
      ),
  })
  .strict();
export type CheckpointMessage = z.infer<typeof CheckpointMessage>;

/**
 * Not a leaf: the operator's certificate for an epoch key of this stream. A sidecar publishes it
 * when it gets it (at start, and again at each renewal), so it may follow records that the key
 * sealed while the operator was away.
 */
export const KeyCertMessage = z
  .object({
    v: z.literal(1),
    type: z.literal("key-cert"),
    origin: z.string().min(1),
    epoch: count,
    cert: KeyCert,
  })
  .strict();
export type KeyCertMessage = z.infer<typeof KeyCertMessage>;

export const StreamMessage = z.discriminatedUnion("type", [
  LogRecord,
  EpochStartRecord,
  HeartbeatRecord,
  KeyRotateRecord,
  EpochEndRecord,
  GapRecord,
  CheckpointMessage,
  KeyCertMessage,
]);
export type StreamMessage = z.infer<typeof StreamMessage>;
