// The canonical bytes of a `log` leaf, written directly in JCS key order: the sealer's hot
// path. It must equal canonicalize() of the same record exactly (a property test holds it to
// that). JCS over I-JSON strings and integers is what JSON.stringify writes when the keys are
// inserted in sorted order, so the variable part is built as fresh objects in that order and
// serialized natively in one call (faster than assembling the text in JS); the parts that
// repeat on every record of a stream (the Kubernetes identity, the origin) are spliced in as
// text remembered from the record before.
import { canonicalize } from "./canonical.ts";
import { type AuditEvent, HEX64, type KubernetesIdentity } from "./record.ts";

const s = JSON.stringify;

const identityCache = new WeakMap<KubernetesIdentity, string>();

function identity(k: KubernetesIdentity): string {
  let text = identityCache.get(k);
  if (text === undefined) {
    text = canonicalize(k);
    identityCache.set(k, text);
  }
  return text;
}

/** The event without its k8s identity, as `{"raw":…,…,"who":{…}}` in JCS order. */
function eventBody(e: AuditEvent): string {
  const { who, what, where, result, source } = e;
  return s({
    raw: e.raw,
    rawTruncated: e.rawTruncated,
    redactions: e.redactions,
    result: { outcome: result.outcome, statusCode: result.statusCode },
    source: {
      file: source.file,
      length: source.length,
      lineHash: source.lineHash,
      offset: source.offset,
    },
    violations: e.violations,
    what: { action: what.action, resource: what.resource },
    when: { time: e.when.time },
    where: {
      forwardedFor: where.forwardedFor,
      requestId: where.requestId,
      sourceIp: where.sourceIp,
      userAgent: where.userAgent,
    },
    who: { actor: who.actor, actorType: who.actorType, roles: who.roles },
  });
}

/** The canonical JSON text of an event. */
export function eventJson(e: AuditEvent): string {
  return `{"k8s":${identity(e.k8s)},${eventBody(e).slice(1)}`;
}

let lastOrigin = "";
let lastOriginJson = '""';
let lastEpoch = Number.NaN;
let lastK8s: KubernetesIdentity | undefined;
/** `\0{"epoch":…,"event":{"k8s":{…}` of the last record: the same for a whole epoch. */
let head = "";

// Records are written piece by piece straight into a shared slab (no concatenated string to
// flatten and encode, no copy), and each record is a view of its part of the slab. Node's own
// Buffer pool does the same with 8 KiB slabs; these are larger, so a new one is needed every
// ~50 records instead of every ~6. A slab is freed once no record in it is referenced.
const SLAB = 64 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB);
let used = 0;

/**
 * The canonical bytes of a `log` leaf with the leaf hash's 0x00 prefix in front (bytes no
 * other record shares): the hash input is the whole buffer, the message its subarray(1).
 */
export function logLeafBytes(
  origin: string,
  epoch: number,
  seq: number,
  prev: string | null,
  e: AuditEvent,
  /** The caller vouches that prev is 64 lowercase hex digits (the sealer does). */
  prevIsHex = false,
): Buffer {
  if (origin !== lastOrigin) {
    lastOrigin = origin;
    lastOriginJson = s(origin);
  }
  if (epoch !== lastEpoch || e.k8s !== lastK8s) {
    lastEpoch = epoch;
    lastK8s = e.k8s;
    head = `\u0000{"epoch":${epoch},"event":{"k8s":${identity(e.k8s)}`;
  }
  const body = eventBody(e);
  const prevJson = prev === null ? "null" : prevIsHex || HEX64.test(prev) ? `"${prev}"` : s(prev);
  const tail = `,"origin":${lastOriginJson},"prev":${prevJson},"seq":${seq},"type":"log","v":1}`;
  // UTF-8 takes at most three bytes per UTF-16 unit.
  const most = 3 * (head.length + body.length + tail.length);
  if (slab.length - used < most) {
    slab = Buffer.allocUnsafeSlow(Math.max(SLAB, most));
    used = 0;
  }
  const start = used;
  let n = start + slab.write(head, start, "utf8");
  // The body is `{…}`: its brace is overwritten by the comma that follows the identity.
  const at = n;
  n += slab.write(body, n, "utf8");
  slab[at] = 0x2c;
  n += slab.write(tail, n, "utf8");
  used = n;
  return slab.subarray(start, n);
}

/** The canonical JSON text of a `log` leaf (what logLeafBytes writes, as text). */
export function logLeafJson(...args: Parameters<typeof logLeafBytes>): string {
  return logLeafBytes(...args).toString("utf8", 1);
}
