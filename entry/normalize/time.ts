// Event times as apps write them, to RFC 3339 UTC keeping the sub-second digits the app gave
// (at least milliseconds, at most nanoseconds). Accepted: RFC 3339 / ISO 8601 and the access-log
// form 10/Oct/2000:13:55:36 -0700, each with or without a zone (no zone is read as UTC and flagged),
// and Unix time in seconds, milliseconds, microseconds or nanoseconds (number or digits).

export interface ParsedTime {
  time: string;
  /** Set when the time had no zone and was read as UTC. */
  assumedUtc?: true;
}

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

const ISO =
  /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(Z|z|[+-]\d\d:?\d\d)?$/;
// The zone is optional: HAProxy writes its accept date without one (read as UTC and flagged).
const CLF =
  /^(\d\d)\/([A-Z][a-z]{2})\/(\d{4}):(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?: ([+-]\d{4}))?$/;
const UNIX = /^(\d{1,19})(?:\.(\d{1,9}))?$/;

function format(ms: number, fraction: string): string | undefined {
  if (!Number.isFinite(ms)) return undefined;
  const d = new Date(ms);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1970 || d.getUTCFullYear() > 9999)
    return undefined;
  return `${d.toISOString().slice(0, 19)}.${fraction.padEnd(3, "0")}Z`;
}

function offsetMinutes(zone: string): number {
  if (zone === "Z" || zone === "z") return 0;
  const sign = zone.startsWith("-") ? -1 : 1;
  const digits = zone.slice(1).replace(":", "");
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
}

function fromParts(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  fraction: string,
  zone: string | undefined,
): ParsedTime | undefined {
  if (mo > 11 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  const local = Date.UTC(y, mo, d, h, mi, Math.min(s, 59));
  if (new Date(local).getUTCDate() !== d) return undefined; // 31 February and the like
  const time = format(local - offsetMinutes(zone ?? "Z") * 60_000, fraction);
  if (!time) return undefined;
  return zone === undefined ? { time, assumedUtc: true } : { time };
}

// Access logs write many lines per second, and the sealer's budget per line is a few
// microseconds: the last second parsed is remembered, keyed by the text with its fraction cut
// out, and a line that differs only in the fraction reuses it. The fraction is still copied
// from the line, and the key keeps the separator and the zone, so the result is exactly what
// the full parse gives (a unit test holds the two to that).
let memoSet = false;
/** Whether the remembered text had a fraction (at 19 or 20), which the key leaves out. */
let memoFraction = false;
/** The remembered text up to and with its fraction's separator, or all of it without one. */
let memoHead = "";
/** What followed the fraction's digits (the zone). */
let memoTail = "";
let memoSecond = "";
let memoAssumedUtc = false;

/** Where the fraction's separator is in an ISO (at 19) or access-log (at 20) time, or -1. */
function fractionAt(text: string): number {
  const c19 = text.charCodeAt(19);
  return c19 === 46 || c19 === 44 ? 19 : text.charCodeAt(20) === 46 ? 20 : -1; // "." ","
}

export function parseEventTime(value: unknown): ParsedTime | undefined {
  if (typeof value !== "string") return parseEventTimeUncached(value);
  const text = value.trim();
  // The memo's key is the text without its fraction digits: the part before them (separator
  // included) and the part after. Compared in place, without building the key.
  const at = fractionAt(text);
  let end = at + 1;
  if (at >= 0)
    while (end < text.length && text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) end++;
  const digits = at < 0 ? 0 : end - at - 1;
  // Only fractions of 1 to 9 digits take part; anything else is parsed in full each time.
  const keyed = at < 0 || (digits >= 1 && digits <= 9);
  if (keyed && memoSet) {
    const hit =
      at < 0
        ? !memoFraction && text === memoHead
        : memoFraction &&
          memoHead.length === at + 1 &&
          text.length - end === memoTail.length &&
          text.startsWith(memoHead) &&
          text.endsWith(memoTail);
    if (hit) {
      const fraction = at < 0 ? "000" : text.slice(at + 1, end).padEnd(3, "0");
      const time = `${memoSecond}.${fraction}Z`;
      return memoAssumedUtc ? { time, assumedUtc: true } : { time };
    }
  }
  const parsed = calendarTime(text);
  if (parsed === null) return fromUnix(text);
  // Only calendar forms are remembered: a Unix time has no fraction at 19 or 20.
  if (keyed && parsed) {
    memoSet = true;
    memoFraction = at >= 0;
    memoHead = at < 0 ? text : text.slice(0, at + 1);
    memoTail = at < 0 ? "" : text.slice(end);
    memoSecond = parsed.time.slice(0, 19);
    memoAssumedUtc = parsed.assumedUtc === true;
  }
  return parsed;
}

/** parseEventTime without the memo: the reference the memo is tested against. */
export function parseEventTimeUncached(value: unknown): ParsedTime | undefined {
  if (typeof value === "number") return fromUnix(String(value));
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  const parsed = calendarTime(text);
  return parsed === null ? fromUnix(text) : parsed;
}

/** An ISO 8601 or access-log time; null when the text has neither form (undefined: invalid). */
function calendarTime(text: string): ParsedTime | undefined | null {
  let m = ISO.exec(text);
  if (m) {
    const [, y, mo, d, h, mi, s, f = "", zone] = m;
    return fromParts(
      Number(y),
      Number(mo) - 1,
      Number(d),
      Number(h),
      Number(mi),
      Number(s),
      f,
      zone,
    );
  }
  m = CLF.exec(text);
  if (m) {
    const [, d, mon, y, h, mi, s, f = "", zone] = m;
    const month = MONTHS[mon as string];
    if (month === undefined) return undefined;
    return fromParts(Number(y), month, Number(d), Number(h), Number(mi), Number(s), f, zone);
  }
  return null;
}

function fromUnix(text: string): ParsedTime | undefined {
  const m = UNIX.exec(text);
  if (!m) return undefined;
  const [, whole = "", frac = ""] = m;
  // The magnitude says the unit: seconds until the year 5138, then ms, µs, ns.
  const digits = whole.replace(/^0+/, "").length;
  const unitDigits = digits <= 11 ? 0 : digits <= 14 ? 3 : digits <= 17 ? 6 : 9;
  const seconds = unitDigits === 0 ? whole : whole.slice(0, whole.length - unitDigits);
  const fraction = (unitDigits === 0 ? frac : whole.slice(whole.length - unitDigits) + frac).slice(
    0,
    9,
  );
  const time = format(
    Number(seconds) * 1000,
    fraction.replace(/0+$/, "").length > 0 ? fraction : "",
  );
  return time ? { time } : undefined;
}
