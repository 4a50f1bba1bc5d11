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
    where: { requestId: where.requestId, sourceIp: where.sourceIp, userAgent: where.userAgent },
    who: { actor: who.actor, actorType: who.actorType, roles: who.roles },
  });
}

/** The canonical JSON text of an event. */
export function eventJson(e: AuditEvent): string {
  return `{"k8s":${identity(e.k8s)},${eventBody(e).slice(1)}`;
}

let lastOrigin = "";
let lastOriginJson = '""';

export function logLeafJson(
  origin: string,
  epoch: number,
  seq: number,
  prev: string | null,
  e: AuditEvent,
  /** The caller vouches that prev is 64 lowercase hex digits (the sealer does). */
  prevIsHex = false,
): string {
  if (origin !== lastOrigin) {
    lastOrigin = origin;
    lastOriginJson = s(origin);
  }
  const prevJson = prev === null ? "null" : prevIsHex || HEX64.test(prev) ? `"${prev}"` : s(prev);
  return `{"epoch":${epoch},"event":${eventJson(e)},"origin":${lastOriginJson},"prev":${prevJson},"seq":${seq},"type":"log","v":1}`;
}
