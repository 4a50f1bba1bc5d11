// One access-log line in, one audit event out (or "excluded" with the rule that matched). Bad
// lines are never dropped and never throw: an unparseable, invalid-UTF-8 or over-long line
// becomes an event with violations and its (redacted, truncated) raw text. The hash of the
// original bytes is kept, so redaction and truncation never cost the evidence its anchor.
// Deterministic: the same bytes, source and options give the same event.
import { isAscii } from "node:buffer";
import { hash } from "node:crypto";
import type { AuditEvent, KubernetesIdentity } from "../record.ts";
import { lineParser } from "./formats.ts";
import {
  AUDIT_FIELDS,
  type AuditField,
  compilePolicyRegex,
  type NormalizeOptions,
} from "./options.ts";
import { getPath, type Parsed, pathGetter, setPath } from "./paths.ts";
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

export const REDACTED = "[REDACTED]";

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
    getters[f] = path === undefined ? undefined : pathGetter(path);
  }
  const patterns = options.redact.flatMap((r, i) =>
    "pattern" in r ? [{ index: i, re: compilePolicyRegex(r.pattern, "g") }] : [],
  );
  const fields: Fields = { getters, patterns };
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

    const statusRaw = value(fields, values, "statusCode");
    const statusCode =
      typeof statusRaw === "number" || (typeof statusRaw === "string" && STATUS.test(statusRaw))
        ? Number(statusRaw)
        : undefined;
    const outcomeText = str(fields, values, "outcome")?.toLowerCase();
    const outcome =
      outcomeText === "success" || outcomeText === "failure"
        ? outcomeText
        : statusCode !== undefined
          ? statusCode < 400
            ? "success"
            : "failure"
          : "unknown";
    const timeValue = value(fields, values, "time") ?? undefined; // null means absent
    const time = timeValue === undefined ? undefined : parseEventTime(timeValue);
    if (timeValue !== undefined && !time) violations.push("time-unparseable");
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

    // Each part holds only its defined keys, added in a fixed order: `delete` or a generic
    // copy would give V8 objects of many shapes, and these are read again on the hot path that
    // writes the record.
    const who: AuditEvent["who"] = {};
    const actor = str(fields, values, "actor");
    if (actor !== undefined) who.actor = actor;
    const actorType = str(fields, values, "actorType");
    if (actorType !== undefined) who.actorType = actorType;
    if (roles !== undefined) who.roles = roles;
    const what: AuditEvent["what"] = {};
    const action = str(fields, values, "action");
    if (action !== undefined) what.action = action;
    const resource = str(fields, values, "resource");
    if (resource !== undefined) what.resource = resource;
    const when: AuditEvent["when"] = {};
    if (time !== undefined) when.time = time.time;
    const where: AuditEvent["where"] = {};
    const sourceIp = str(fields, values, "sourceIp");
    if (sourceIp !== undefined) where.sourceIp = sourceIp;
    const userAgent = str(fields, values, "userAgent");
    if (userAgent !== undefined) where.userAgent = userAgent;
    const requestId = str(fields, values, "requestId");
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
      if (!present(event, f)) violations.push(`missing: ${f}`);
    }
    return { kind: "event", event };
  };
}

const STATUS = /^\d{3}$/;

/** How a normalizer reads the audit fields of a parsed line. */
interface Fields {
  getters: Record<AuditField, ((v: Parsed) => unknown) | undefined>;
  patterns: { index: number; re: RegExp }[];
}

// value and str are shared by every normalizer, not made per normalizer: calls to a
// normalizer's own closures were inlined as calls to those very functions, and the code
// optimized for the first stream's normalizer was thrown away when a second one started.

/** The value of an audit field in a parsed line, pattern-redacted when it is a string. */
function value({ getters, patterns }: Fields, values: Parsed | undefined, f: AuditField): unknown {
  const get = getters[f];
  if (!values || !get) return undefined;
  let v = get(values);
  if (typeof v === "string" && patterns.length > 0) {
    for (const p of patterns) {
      p.re.lastIndex = 0;
      v = (v as string).replace(p.re, REDACTED);
    }
  }
  return v;
}

/** A field's value as a string. Values from JSON may hold lone surrogates (\ud800 escapes); records must be I-JSON. */
function str(fields: Fields, values: Parsed | undefined, f: AuditField): string | undefined {
  const v = value(fields, values, f);
  return v === undefined || v === null || typeof v === "object"
    ? undefined
    : String(v).toWellFormed();
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
