// The canonical bytes of a `log` leaf, written directly in JCS key order: the sealer's hot
// path. It must equal canonicalize() of the same record exactly (a property test holds it to
// that); anything it was not written for goes through the generic canonicalize.
import { canonicalize } from "./canonical.ts";
import type { AuditEvent, KubernetesIdentity } from "./record.ts";

const s = JSON.stringify;

function opt(key: string, v: string | number | undefined, first: boolean): string {
  return v === undefined ? "" : `${first ? "" : ","}"${key}":${s(v)}`;
}

function strings(a: readonly string[]): string {
  let out = "[";
  for (let i = 0; i < a.length; i++) out += (i ? "," : "") + s(a[i]);
  return `${out}]`;
}

const identityCache = new WeakMap<KubernetesIdentity, string>();

function identity(k: KubernetesIdentity): string {
  let text = identityCache.get(k);
  if (text === undefined) {
    text = canonicalize(k);
    identityCache.set(k, text);
  }
  return text;
}

function group(fields: string): string {
  return `{${fields.startsWith(",") ? fields.slice(1) : fields}}`;
}

// Strings that cannot need escaping are quoted directly; the rest go through JSON.stringify,
// whose output for a string is exactly JCS's.
const HEX = /^[0-9a-f]*$/;
const hexOrEscaped = (v: string) => (HEX.test(v) ? `"${v}"` : s(v));
const OUTCOMES: Record<string, string> = {
  success: '"success"',
  failure: '"failure"',
  unknown: '"unknown"',
};
// The same file name heads every record of a stream: remember its encoding.
let lastFile = "";
let lastFileJson = '""';

export function eventJson(e: AuditEvent): string {
  const who = group(
    `${opt("actor", e.who.actor, false)}${opt("actorType", e.who.actorType, false)}${e.who.roles ? `,"roles":${strings(e.who.roles)}` : ""}`,
  );
  const what = group(
    `${opt("action", e.what.action, false)}${opt("resource", e.what.resource, false)}`,
  );
  const when = group(opt("time", e.when.time, true));
  const where = group(
    `${opt("requestId", e.where.requestId, false)}${opt("sourceIp", e.where.sourceIp, false)}${opt("userAgent", e.where.userAgent, false)}`,
  );
  const result = `{"outcome":${OUTCOMES[e.result.outcome] ?? s(e.result.outcome)}${opt("statusCode", e.result.statusCode, false)}}`;
  const src = e.source;
  if (src.file !== lastFile) {
    lastFile = src.file;
    lastFileJson = s(src.file);
  }
  const source = `{"file":${lastFileJson},"length":${src.length},"lineHash":${hexOrEscaped(src.lineHash)},"offset":${src.offset}}`;
  return `{"k8s":${identity(e.k8s)},"raw":${s(e.raw)}${e.rawTruncated ? ',"rawTruncated":true' : ""},"redactions":${e.redactions.length === 0 ? "[]" : strings(e.redactions)},"result":${result},"source":${source},"violations":${e.violations.length === 0 ? "[]" : strings(e.violations)},"what":${what},"when":${when},"where":${where},"who":${who}}`;
}

let lastOrigin = "";
let lastOriginJson = '""';

export function logLeafJson(
  origin: string,
  epoch: number,
  seq: number,
  prev: string | null,
  e: AuditEvent,
): string {
  if (origin !== lastOrigin) {
    lastOrigin = origin;
    lastOriginJson = s(origin);
  }
  return `{"epoch":${epoch},"event":${eventJson(e)},"origin":${lastOriginJson},"prev":${prev === null ? "null" : hexOrEscaped(prev)},"seq":${seq},"type":"log","v":1}`;
}
