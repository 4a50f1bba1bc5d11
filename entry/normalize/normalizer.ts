// One access-log line in, one audit event out (or "excluded" with the rule that matched). Bad
// lines are never dropped and never throw: an unparseable, invalid-UTF-8 or over-long line
// becomes an event with violations and its (redacted, truncated) raw text. The hash of the
// original bytes is kept, so redaction and truncation never cost the evidence its anchor.
// Deterministic: the same bytes, source and options give the same event.
import { isAscii } from "node:buffer";
import { hash } from "node:crypto";
import type { AuditEvent, KubernetesIdentity } from "../record.ts";
import { getPath, lineParser, type Parsed, pathGetter, setPath } from "./formats.ts";
import {
  AUDIT_FIELDS,
  type AuditField,
  compilePolicyRegex,
  type NormalizeOptions,
} from "./options.ts";
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
  const getters = {} as Record<AuditField, ((v: Parsed) => unknown) | undefined>;
  for (const f of AUDIT_FIELDS) {
    const path = fieldPath(f);
    getters[f] = path === undefined ? undefined : pathGetter(path);
  }
  const patterns = options.redact.flatMap((r, i) =>
    "pattern" in r ? [{ index: i, re: compilePolicyRegex(r.pattern, "g") }] : [],
  );
  const fieldRules = options.redact.flatMap((r) => ("field" in r ? [r.field] : []));
  const excludes = options.exclude.map((e) => ({
    get: pathGetter(fieldPath(e.field as AuditField) ?? e.field),
    re: compilePolicyRegex(e.pattern),
  }));
  const maxLineBytes = options.maxLineBytes;

  return (bytes, source) => {
    const violations: string[] = [];
    const redactions: string[] = [];
    const lineHash = source.fullHash ?? hash("sha256", bytes, "hex");
    const length = source.fullLength ?? bytes.length;
    let text: string;
    if (isAscii(bytes)) {
      // Most access logs are ASCII: a one-byte string, no decoding, nothing to validate.
      text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
    } else {
      try {
        text = utf8.decode(bytes);
      } catch {
        text = lenient.decode(bytes);
        violations.push("invalid-utf8");
      }
    }
    if (source.fullLength !== undefined && source.fullLength > bytes.length)
      violations.push("line-too-long");

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
    const value = (f: AuditField): unknown => {
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
    };
    // Values from JSON may hold lone surrogates (\ud800 escapes); records must be I-JSON.
    const str = (f: AuditField): string | undefined => {
      const v = value(f);
      return v === undefined || v === null || typeof v === "object"
        ? undefined
        : String(v).toWellFormed();
    };

    const statusRaw = value("statusCode");
    const statusCode =
      typeof statusRaw === "number" || (typeof statusRaw === "string" && STATUS.test(statusRaw))
        ? Number(statusRaw)
        : undefined;
    const outcomeText = str("outcome")?.toLowerCase();
    const outcome =
      outcomeText === "success" || outcomeText === "failure"
        ? outcomeText
        : statusCode !== undefined
          ? statusCode < 400
            ? "success"
            : "failure"
          : "unknown";
    const timeValue = value("time") ?? undefined; // null means absent
    const time = timeValue === undefined ? undefined : parseEventTime(timeValue);
    if (timeValue !== undefined && !time) violations.push("time-unparseable");
    if (time?.assumedUtc) violations.push("time-without-zone");
    const rolesValue = value("roles");
    const roles = Array.isArray(rolesValue)
      ? rolesValue.map((r) => String(r).toWellFormed())
      : typeof rolesValue === "string"
        ? rolesValue
            .split(",")
            .map((r) => r.trim())
            .filter(Boolean)
        : undefined;

    const event: AuditEvent = {
      who: compact({ actor: str("actor"), actorType: str("actorType"), roles }),
      what: compact({ action: str("action"), resource: str("resource") }),
      when: compact({ time: time?.time }),
      where: compact({
        sourceIp: str("sourceIp"),
        userAgent: str("userAgent"),
        requestId: str("requestId"),
      }),
      result: compact({ outcome, statusCode }),
      k8s: identity,
      source: { file: source.file, offset: source.offset, length, lineHash },
      raw: truncate(raw, maxLineBytes),
      violations,
      redactions,
    };
    if (longerThan(raw, maxLineBytes) || violations.includes("line-too-long"))
      event.rawTruncated = true;
    for (const f of options.required) {
      if (!present(event, f)) violations.push(`missing: ${f}`);
    }
    return { kind: "event", event };
  };
}

const STATUS = /^\d{3}$/;

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

function compact<T extends Record<string, unknown>>(
  o: T,
): { [K in keyof T]: Exclude<T[K], undefined> } {
  // A fresh object with only the defined keys: \`delete\` would push V8 objects into slow
  // dictionary mode, and these are read again on the hot path that writes the record.
  const out: Record<string, unknown> = {};
  for (const k in o) if (o[k] !== undefined) out[k] = o[k];
  return out as { [K in keyof T]: Exclude<T[K], undefined> };
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
