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
  const result = `{"outcome":${s(e.result.outcome)}${opt("statusCode", e.result.statusCode, false)}}`;
  const src = e.source;
  const source = `{"file":${s(src.file)},"length":${src.length},"lineHash":${s(src.lineHash)},"offset":${src.offset}}`;
  return `{"k8s":${identity(e.k8s)},"raw":${s(e.raw)}${e.rawTruncated ? ',"rawTruncated":true' : ""},"redactions":${strings(e.redactions)},"result":${result},"source":${source},"violations":${strings(e.violations)},"what":${what},"when":${when},"where":${where},"who":${who}}`;
}

export function logLeafJson(
  origin: string,
  epoch: number,
  seq: number,
  prev: string | null,
  e: AuditEvent,
): string {
  return `{"epoch":${epoch},"event":${eventJson(e)},"origin":${s(origin)},"prev":${prev === null ? "null" : s(prev)},"seq":${seq},"type":"log","v":1}`;
}
