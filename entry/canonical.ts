// Canonical bytes: RFC 8785 (JSON Canonicalization Scheme). A record's bytes are exactly
// JCS(record), so anyone can recompute them, and the verifier requires
// bytes == JCS(JSON.parse(bytes)): that one check rejects duplicate keys (parse keeps one),
// numbers outside I-JSON (2^53+1 parses to another number), other key orders, escapes and
// whitespace. Lone surrogates, too-deep nesting and too-large input are refused outright.

export class CanonicalError extends Error {
  override readonly name = "CanonicalError";
  readonly kind: "not-json" | "not-canonical" | "not-i-json" | "too-large" | "too-deep";
  constructor(kind: CanonicalError["kind"], message: string) {
    super(message);
    this.kind = kind;
  }
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** JCS serialization. Throws on values JSON cannot carry (undefined, NaN, functions, cycles). */
export function canonicalize(value: unknown): string {
  // Fast path: a copy with sorted keys through the native JSON.stringify, whose number and
  // string forms are exactly JCS's. Integer-like keys would be reordered by the engine (it
  // lists them first, numerically), so such values take the exact writer below.
  const sorted = sortedCopy(value, 0);
  return sorted === INTEGER_KEY ? write(value, 0) : JSON.stringify(sorted);
}

export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), "utf8");
}

const INTEGER_KEY = Symbol("integer-like key");

function sortedCopy(value: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new CanonicalError("too-deep", `nesting deeper than ${MAX_DEPTH}`);
  switch (typeof value) {
    case "string":
      if (!value.isWellFormed())
        throw new CanonicalError("not-i-json", "string with a lone surrogate");
      return value;
    case "number":
      if (!Number.isFinite(value)) throw new CanonicalError("not-i-json", `number ${value}`);
      return value;
    case "boolean":
      return value;
    case "object": {
      if (value === null) return null;
      if (Array.isArray(value)) {
        const out = new Array(value.length);
        for (let i = 0; i < value.length; i++) {
          const v = value[i];
          if (v === undefined) throw new CanonicalError("not-i-json", "undefined in an array");
          const c = sortedCopy(v, depth + 1);
          if (c === INTEGER_KEY) return INTEGER_KEY;
          out[i] = c;
        }
        return out;
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      const out: Record<string, unknown> = {};
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined) continue;
        const first = k.charCodeAt(0);
        if (first >= 0x30 && first <= 0x39 && /^(0|[1-9]\d*)$/.test(k)) return INTEGER_KEY;
        if (!k.isWellFormed()) throw new CanonicalError("not-i-json", "key with a lone surrogate");
        const c = sortedCopy(v, depth + 1);
        if (c === INTEGER_KEY) return INTEGER_KEY;
        out[k] = c;
      }
      return out;
    }
    default:
      throw new CanonicalError("not-i-json", `cannot serialize a ${typeof value}`);
  }
}

const MAX_DEPTH = 64;

function write(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw new CanonicalError("too-deep", `nesting deeper than ${MAX_DEPTH}`);
  switch (typeof value) {
    case "string":
      if (!value.isWellFormed())
        throw new CanonicalError("not-i-json", "string with a lone surrogate");
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new CanonicalError("not-i-json", `number ${value}`);
      // ECMAScript Number-to-String is exactly JCS's number form (and -0 serializes as 0).
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ",";
          out += write(value[i], depth + 1);
        }
        return `${out}]`;
      }
      const obj = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is what JCS specifies.
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      let out = "{";
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as string;
        if (!k.isWellFormed()) throw new CanonicalError("not-i-json", "key with a lone surrogate");
        if (i > 0) out += ",";
        out += `${JSON.stringify(k)}:${write(obj[k], depth + 1)}`;
      }
      return `${out}}`;
    }
    default:
      throw new CanonicalError("not-i-json", `cannot serialize a ${typeof value}`);
  }
}

export interface ParseLimits {
  maxBytes: number;
  maxDepth: number;
}

export const DEFAULT_LIMITS: ParseLimits = { maxBytes: 1_048_576, maxDepth: 32 };

/**
 * Parses bytes that must be canonical JSON. The depth is measured on the bytes before
 * JSON.parse runs, so hostile nesting costs one linear scan, not a deep recursion.
 */
export function parseCanonical(bytes: Uint8Array, limits: ParseLimits = DEFAULT_LIMITS): Json {
  if (bytes.length > limits.maxBytes) {
    throw new CanonicalError("too-large", `${bytes.length} bytes, more than ${limits.maxBytes}`);
  }
  const depth = maxNesting(bytes);
  if (depth > limits.maxDepth)
    throw new CanonicalError("too-deep", `nesting ${depth} deeper than ${limits.maxDepth}`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new CanonicalError("not-json", "not valid UTF-8");
  }
  let value: Json;
  try {
    value = JSON.parse(text) as Json;
  } catch (err) {
    throw new CanonicalError("not-json", (err as Error).message);
  }
  // Canonical text parses into objects whose keys are already sorted: then the native
  // stringify is the JCS form and no sorted copy is needed.
  const again = keysSortedPlain(value, 0) ? JSON.stringify(value) : canonicalize(value);
  if (again !== text)
    throw new CanonicalError("not-canonical", "bytes differ from the JCS form of their value");
  return value;
}

/** True when every object's keys are strictly increasing and none is integer-like. */
function keysSortedPlain(value: unknown, depth: number): boolean {
  if (typeof value === "string")
    return value.isWellFormed() || fail("string with a lone surrogate");
  if (typeof value !== "object" || value === null) return true;
  if (depth > MAX_DEPTH) throw new CanonicalError("too-deep", `nesting deeper than ${MAX_DEPTH}`);
  if (Array.isArray(value)) {
    for (const v of value) if (!keysSortedPlain(v, depth + 1)) return false;
    return true;
  }
  let prev: string | undefined;
  for (const k in value) {
    const first = k.charCodeAt(0);
    if (first >= 0x30 && first <= 0x39) return false;
    if ((prev !== undefined && prev >= k) || !k.isWellFormed()) return false;
    prev = k;
    if (!keysSortedPlain((value as Record<string, unknown>)[k], depth + 1)) return false;
  }
  return true;
}

function fail(message: string): never {
  throw new CanonicalError("not-i-json", message);
}

function maxNesting(bytes: Uint8Array): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c)
        i++; // skip the escaped byte
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x7b || b === 0x5b) {
      if (++depth > max) max = depth;
    } else if (b === 0x7d || b === 0x5d) depth--;
  }
  return max;
}
