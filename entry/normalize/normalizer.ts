// One access-log line in, one audit event out (or "excluded" with the rule that matched). Bad
// lines are never dropped and never throw: an unparseable, invalid-UTF-8 or over-long line
// becomes an event with violations and its (redacted, truncated) raw text. The hash of the
// original bytes is kept, so redaction and truncation never cost the evidence its anchor.
// Deterministic: the same bytes, source and options give the same event.
import { isAscii } from "node:buffer";
import { hash } from "node:crypto";
import type { AuditEvent, KubernetesIdentity } from "../record.ts";
import { clientAddress, compileTrust } from "./address.ts";
import {
  type Absences,
  type Fields,
  HTTP_TOKEN,
  statusCode as readStatus,
  str,
  value,
} from "./fields.ts";
import { lineParser } from "./formats.ts";
import {
  AUDIT_FIELDS,
  type AuditField,
  compilePolicyRegex,
  type NormalizeOptions,
} from "./options.ts";
import { getPath, type Parsed, pathGetter, setPath } from "./paths.ts";
import { REDACTED } from "./redacted.ts";
import { parseEventTime } from "./time.ts";

export interface LineSource {
  file: string;
  /** Byte offset of the line's first byte. */
  offset: number;
  /** When the reader cut an over-long line: the full length and the hash of all its bytes. */
  fullLength?: number;
  fullHash?: string;
}

export type Normalized = { kind: "event"; event: AuditEvent } | { kind: "excluded"; rule: number };

export { REDACTED };

const utf8 = new TextDecoder("utf-8", { fatal: true });
const lenient = new TextDecoder("utf-8");

export type Normalizer = (line: Uint8Array, source: LineSource) => Normalized;

export function createNormalizer(
  options: NormalizeOptions,
  identity: KubernetesIdentity,
): Normalizer {
  const parser = lineParser(options.format, options.pattern);
  const fieldPath = (f: AuditField): string | undefined => options.fields[f] ?? parser.defaults[f];
  // Paths are split once here, not per line: this runs for every field of every record.
  const getters = {} as Fields["getters"];
  for (const f of AUDIT_FIELDS) {
    const path = fieldPath(f);
    const reader = options.fields[f] === undefined ? parser.readers?.[f] : undefined;
    getters[f] = reader ?? (path === undefined ? undefined : pathGetter(path));
  }
  const patterns = options.redact.flatMap((r, i) =>
    "pattern" in r ? [{ index: i, re: compilePolicyRegex(r.pattern, "g") }] : [],
  );
  const fields: Fields = {
    getters,
    patterns,
    placeholders: new Set(options.placeholders),
    placeholderMax: Math.max(0, ...options.placeholders.map((p) => p.length)),
  };
  const trust = compileTrust(options.trustedProxies);
  const actionIsMethod = parser.actionIsMethod === true && options.fields.action === undefined;
  const fieldRules = options.redact.flatMap((r) => ("field" in r ? [r.field] : []));
  const excludes = options.exclude.map((e) => ({
    get: pathGetter(fieldPath(e.field as AuditField) ?? e.field),
    re: compilePolicyRegex(e.pattern),
  }));
  const maxLineBytes = options.maxLineBytes;
  const required = options.required;

  return (bytes, source) => {
    const violations: string[] = [];
    const redactions: string[] = [];
    const lineHash = source.fullHash ?? hash("sha256", bytes, "hex");
    const length = source.fullLength ?? bytes.length;
    let text: string;
    if (isAscii(bytes)) {
      // Most access logs are ASCII: a one-byte string, no decoding, nothing to validate.
      text = (
        Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
      ).toString("latin1");
    } else {
      try {
        text = utf8.decode(bytes);
      } catch {
        text = lenient.decode(bytes);
        violations.push("invalid-utf8");
      }
    }
    const cut = source.fullLength !== undefined && source.fullLength > bytes.length;
    if (cut) violations.push("line-too-long");

    const parsed = parser.parse(text);
    const values: Parsed | undefined = parsed.ok ? parsed.values : undefined;
    // Parser messages quote the line, and V8 may cut a surrogate pair in half while quoting.
    if (!parsed.ok) violations.push(`unparseable: ${parsed.reason.toWellFormed()}`);
    else if (parsed.problems) violations.push(...parsed.problems);

    if (values) {
      for (let i = 0; i < excludes.length; i++) {
        const e = excludes[i] as (typeof excludes)[number];
        const v = e.get(values);
        if (v !== undefined && typeof v !== "object" && e.re.test(String(v)))
          return { kind: "excluded", rule: i };
      }
    }

    // Redact fields in the parsed values, then patterns in the raw text and the values.
    let raw = text;
    if (values && parser.render) {
      let changed = false;
      for (const path of fieldRules) {
        if (getPath(values, path) !== undefined && setPath(values, path, REDACTED)) {
          redactions.push(`field:${path}`);
          changed = true;
        }
      }
      if (changed) raw = parser.render(values);
    }
    for (const p of patterns) {
      p.re.lastIndex = 0;
      if (p.re.test(raw)) {
        p.re.lastIndex = 0;
        raw = raw.replace(p.re, REDACTED);
        redactions.push(`pattern:${p.index}`);
      }
    }

    // Why fields the line had something for have no value (placeholders, empty), for `missing:`.
    const absences: Absences = {};
    const status = readStatus(fields, values, absences);
    const statusCode = status.code;
    if (status.invalid) violations.push("invalid: statusCode");
    const outcomeText = str(fields, values, "outcome", absences)?.toLowerCase();
    const outcome =
      outcomeText === "success" || outcomeText === "failure"
        ? outcomeText
        : statusCode !== undefined
          ? statusCode < 400
            ? "success"
            : "failure"
          : "unknown";
    const timeValue = value(fields, values, "time") ?? undefined; // null means absent
    const timeText =
      typeof timeValue === "string" ? str(fields, values, "time", absences) : timeValue;
    const time = timeText === undefined ? undefined : parseEventTime(timeText);
    if (timeText !== undefined && !time) violations.push("time-unparseable");
    if (time?.assumedUtc) violations.push("time-without-zone");
    const rolesValue = value(fields, values, "roles");
    const roles = Array.isArray(rolesValue)
      ? rolesValue.map((r) => String(r).toWellFormed())
      : typeof rolesValue === "string"
        ? rolesValue
            .split(",")
            .map((r) => r.trim())
            .filter(Boolean)
        : undefined;
    const knownRoles = roles?.filter((r) => !fields.placeholders.has(r));

    // Each part holds only its defined keys, added in a fixed order: `delete` or a generic
    // copy would give V8 objects of many shapes, and these are read again on the hot path that
    // writes the record.
    const who: AuditEvent["who"] = {};
    const actor = str(fields, values, "actor", absences);
    if (actor !== undefined) who.actor = actor;
    const actorType = str(fields, values, "actorType", absences);
    if (actorType !== undefined) who.actorType = actorType;
    if (knownRoles !== undefined && knownRoles.length > 0) who.roles = knownRoles;
    const what: AuditEvent["what"] = {};
    const action = str(fields, values, "action", absences);
    if (action !== undefined) {
      if (!actionIsMethod || HTTP_TOKEN.test(action)) what.action = action;
      else violations.push("invalid: action");
    }
    const resource = str(fields, values, "resource", absences);
    if (resource !== undefined) what.resource = resource;
    const when: AuditEvent["when"] = {};
    if (time !== undefined) when.time = time.time;
    const where: AuditEvent["where"] = {};
    const client = clientAddress(
      str(fields, values, "sourceIp", absences),
      str(fields, values, "forwardedFor", absences),
      trust,
    );
    if (client.chain !== undefined) where.forwardedFor = client.chain;
    if (client.ip !== undefined) where.sourceIp = client.ip;
    if (client.problem === "invalid") violations.push("invalid: sourceIp");
    else if (client.problem === "untrusted-chain") violations.push("sourceIp-chain-untrusted");
    if (client.badHop) violations.push("invalid: forwardedFor");
    const userAgent = str(fields, values, "userAgent", absences);
    if (userAgent !== undefined) where.userAgent = userAgent;
    const requestId = str(fields, values, "requestId", absences);
    if (requestId !== undefined) where.requestId = requestId;
    const result: AuditEvent["result"] =
      statusCode === undefined ? { outcome } : { outcome, statusCode };

    const event: AuditEvent = {
      who,
      what,
      when,
      where,
      result,
      k8s: identity,
      source: { file: source.file, offset: source.offset, length, lineHash },
      raw: truncate(raw, maxLineBytes),
      violations,
      redactions,
    };
    if (cut || longerThan(raw, maxLineBytes)) event.rawTruncated = true;
    for (const f of required) {
      if (present(event, f)) continue;
      const why = absences[f];
      violations.push(why === undefined ? `missing: ${f}` : `missing: ${f} (${why})`);
    }
    return { kind: "event", event };
  };
}

function fieldValue(e: AuditEvent, f: AuditField): unknown {
  switch (f) {
    case "actor":
      return e.who.actor;
    case "actorType":
      return e.who.actorType;
    case "roles":
      return e.who.roles;
    case "action":
      return e.what.action;
    case "resource":
      return e.what.resource;
    case "time":
      return e.when.time;
    case "sourceIp":
      return e.where.sourceIp;
    case "forwardedFor":
      return e.where.forwardedFor;
    case "userAgent":
      return e.where.userAgent;
    case "requestId":
      return e.where.requestId;
    case "outcome":
      return e.result.outcome === "unknown" ? undefined : e.result.outcome;
    case "statusCode":
      return e.result.statusCode;
  }
}

function present(e: AuditEvent, f: AuditField): boolean {
  const v = fieldValue(e, f);
  return v !== undefined && !(Array.isArray(v) && v.length === 0);
}

/** Whether the UTF-8 form exceeds maxBytes. n UTF-16 units take at most 3n bytes: short text skips counting. */
function longerThan(text: string, maxBytes: number): boolean {
  return text.length * 3 > maxBytes && Buffer.byteLength(text) > maxBytes;
}

/** Cuts at a byte limit without splitting a UTF-8 sequence. */
function truncate(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text;
  const buf = Buffer.from(text);
  if (buf.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && ((buf[end] as number) & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString();
}
