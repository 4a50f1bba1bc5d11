// Reading the audit fields of a parsed line, and what makes a value count. A value that is
// absent, empty, blank or one of the policy's placeholders (`-` and friends) is no value: it
// never becomes who, what or where, and the reason is kept for the `missing:` violation of a
// required field. Status codes are checked to be HTTP's (100-599), methods to be HTTP tokens.
// Shared by every normalizer (see value below for why these are not closures).
import type { AuditField } from "./options.ts";
import type { Parsed } from "./paths.ts";
import { REDACTED } from "./redacted.ts";

/** How a normalizer reads the audit fields of a parsed line. */
export interface Fields {
  getters: Record<AuditField, ((v: Parsed) => unknown) | undefined>;
  patterns: { index: number; re: RegExp }[];
  placeholders: ReadonlySet<string>;
  /** The longest placeholder: longer text is never one, and is not hashed to find out. */
  placeholderMax: number;
}

/** Why a field of one line has no value though the line had something there. */
export type Absences = Partial<Record<AuditField, string>>;

// value and str are shared by every normalizer, not made per normalizer: calls to a
// normalizer's own closures were inlined as calls to those very functions, and the code
// optimized for the first stream's normalizer was thrown away when a second one started.

/** The value of an audit field in a parsed line, pattern-redacted when it is a string. */
export function value(
  { getters, patterns }: Fields,
  values: Parsed | undefined,
  f: AuditField,
): unknown {
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

/**
 * A field's value as a string, or undefined when it has none: absent, null, an object, empty,
 * blank or a placeholder (the last three noted in `absences`). Values from JSON may hold lone
 * surrogates (\ud800 escapes); records must be I-JSON.
 */
export function str(
  fields: Fields,
  values: Parsed | undefined,
  f: AuditField,
  absences: Absences,
): string | undefined {
  const v = value(fields, values, f);
  if (v === undefined || v === null || typeof v === "object") return undefined;
  const s = typeof v === "string" ? v : String(v);
  const why = noValue(s, fields);
  if (why === undefined) return s.toWellFormed();
  absences[f] = why;
  return undefined;
}

/** Why a text is no value ("empty" or `placeholder "-"`), or undefined when it is one. */
function noValue(s: string, { placeholders, placeholderMax }: Fields): string | undefined {
  if (s.length === 0) return "empty";
  // A fresh string's hash costs a pass over it: paths and agents are longer than any placeholder.
  if (s.length <= placeholderMax && placeholders.has(s)) return `placeholder ${JSON.stringify(s)}`;
  // Only text with space at an end needs trimming: one char code test per end on the hot path.
  if (s.charCodeAt(0) > 32 && s.charCodeAt(s.length - 1) > 32) return undefined;
  const t = s.trim();
  if (t.length === 0) return "empty";
  return t.length <= placeholderMax && placeholders.has(t)
    ? `placeholder ${JSON.stringify(t)}`
    : undefined;
}

const STATUS_TEXT = /^\d{1,3}$/;

/** A status code as HTTP defines it (100-599); `invalid` when the line held something else. */
export function statusCode(
  fields: Fields,
  values: Parsed | undefined,
  absences: Absences,
): { code?: number; invalid?: true } {
  const v = value(fields, values, "statusCode");
  if (typeof v === "number")
    return v >= 100 && v <= 599 && Number.isInteger(v) ? { code: v } : { invalid: true };
  if (v === undefined || v === null) return {};
  const s = str(fields, values, "statusCode", absences);
  if (s === undefined) return typeof v === "object" ? { invalid: true } : {};
  if (!STATUS_TEXT.test(s)) return { invalid: true };
  const code = Number(s);
  return code >= 100 && code <= 599 ? { code } : { invalid: true };
}

/** An HTTP method is a token (RFC 9110 5.6.2). */
export const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
