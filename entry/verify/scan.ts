// Single-pass validating scanner for the verifier: over a message's raw bytes, with no JSON.parse
// and no object tree, it checks strict JSON grammar, UTF-8 and RFC 8785 (JCS) form at once, and
// for a `log` record also the whole LogRecord schema (entry/record.ts), capturing the fields the
// verifier keeps. Pure: no I/O; what it keeps between calls (one reused scanner, a view of the
// last message's ArrayBuffer, the last origin and file strings) never changes a result.
//
// Guarantees (entry/verify/scan.test.ts checks them against parseCanonical and the zod schemas):
// - `format`: what parseCanonical refuses as not-json / not UTF-8 / too-large / too-deep / a lone
//   surrogate. Format problems win over canonical ones, as they do there: after the first
//   canonical problem the scan goes on to the end, looking for a format one. For two rare,
//   hostile spellings (a lone surrogate escape, a number beyond double range) parseCanonical's
//   answer depends on the parsed value (duplicate keys, its exact writer), so it is asked.
// - `canonical`: valid JSON, but not its own JCS bytes (whitespace, key order or duplicates,
//   escapes JSON.stringify would not write, numbers not in their ECMAScript shortest form).
// - `log`: canonical, and a LogRecord as zod would accept it; `log` holds its fields.
// - `other`: canonical, anything else (other record types, or a log record the scanner does not
//   vouch for): the caller parses it and applies the zod schemas, as before.
// Deliberately stricter than parseCanonical in one place: a leading UTF-8 byte order mark (which
// TextDecoder strips before JSON.parse sees it) is not part of any JCS text, so it is refused as
// canonical. And parseCanonical refuses the canonical `{"1a":0,"__proto__":0}` (its sorted copy
// assigns `__proto__` and loses the key), which the scanner accepts; both are errors downstream.
import { CanonicalError, type ParseLimits, parseCanonical } from "../canonical.ts";

export interface LogFields {
  origin: string;
  epoch: number;
  seq: number;
  prev: string | null;
  file: string;
  offset: number;
  lineHash: string;
  /** `event.k8s` as its text in the record (canonical JSON): the pod the record names. */
  k8s: string;
}

export type ScanResult =
  | { kind: "log"; log: LogFields }
  | { kind: "other" }
  | { kind: "format" | "canonical"; message: string };

// Byte classes inside a string: the hot loop skips class 0 bytes one table load each.
const PLAIN = 0;
const QUOTE = 1;
const BACKSLASH = 2;
const CONTROL = 3;
const HIGH = 4;
const STRING_CLASS = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  STRING_CLASS[b] =
    b < 0x20 ? CONTROL : b === 0x22 ? QUOTE : b === 0x5c ? BACKSLASH : b >= 0x80 ? HIGH : PLAIN;
}
const HEX = new Int8Array(256).fill(-1);
for (let d = 0; d < 10; d++) HEX[0x30 + d] = d;
for (let d = 0; d < 6; d++) {
  HEX[0x61 + d] = 10 + d;
  HEX[0x41 + d] = 10 + d;
}

// Schema specs: what a value must be for the record to stay a LogRecord. `cap` names the slot
// a captured value goes to.
const ANY = 0;
const STR = 1;
const STR_NONEMPTY = 2;
const HEX64 = 3;
const HEX64_OR_NULL = 4;
const COUNT = 5;
const INT = 6;
const ONE = 7;
const LOG = 8;
const TRUE = 9;
const EVENT_TIME = 10;
const OUTCOME = 11;
const ARRAY_OF = 12;
const OBJECT = 13;

interface Field {
  name: Uint8Array;
  spec: Spec;
  required: boolean;
  /** `name":` as little-endian words, the last one masked: a key compares 4 bytes at a time. */
  words: Int32Array;
  masks: Int32Array;
}

function keyWords(name: Uint8Array): { words: Int32Array; masks: Int32Array } {
  const bytes = [...name, 0x22, 0x3a];
  const count = Math.ceil(bytes.length / 4);
  const words = new Int32Array(count);
  const masks = new Int32Array(count);
  for (let k = 0; k < bytes.length; k++) {
    words[k >> 2] = (words[k >> 2] as number) | ((bytes[k] as number) << (8 * (k & 3)));
    masks[k >> 2] = (masks[k >> 2] as number) | (0xff << (8 * (k & 3)));
  }
  return { words, masks };
}
interface Spec {
  t: number;
  cap: number;
  item: Spec | null;
  fields: Field[] | null;
}

const CAP_ORIGIN = 0;
const CAP_PREV = 1;
const CAP_FILE = 2;
const CAP_LINE_HASH = 3;
const CAP_TIME = 4;
const CAP_EPOCH = 5;
const CAP_SEQ = 6;
const CAP_OFFSET = 7;
const CAP_K8S = 8;
const CAPS = 9;

const spec = (t: number, cap = -1): Spec => ({ t, cap, item: null, fields: null });
const arrayOf = (item: Spec): Spec => ({ t: ARRAY_OF, cap: -1, item, fields: null });
/** An object spec whose whole text is captured. */
const captured = (s: Spec, cap: number): Spec => ({ ...s, cap });
/** A strict object; `?` after a name marks it optional. Fields are sorted as JCS sorts keys. */
function object(shape: Record<string, Spec>): Spec {
  const fields = Object.entries(shape)
    .map(([k, s]) => {
      const name = k.endsWith("?") ? k.slice(0, -1) : k;
      return { name: new TextEncoder().encode(name), spec: s, required: name === k, key: name };
    })
    .sort((a, b) => (a.key < b.key ? -1 : 1))
    .map(({ name, spec, required }) => ({ name, spec, required, ...keyWords(name) }));
  return { t: OBJECT, cap: -1, item: null, fields };
}

const str = spec(STR);
const count = spec(COUNT);
const LOG_RECORD = object({
  v: spec(ONE),
  origin: spec(STR_NONEMPTY, CAP_ORIGIN),
  epoch: spec(COUNT, CAP_EPOCH),
  seq: spec(COUNT, CAP_SEQ),
  prev: spec(HEX64_OR_NULL, CAP_PREV),
  type: spec(LOG),
  event: object({
    who: object({ "actor?": str, "actorType?": str, "roles?": arrayOf(str) }),
    what: object({ "action?": str, "resource?": str }),
    when: object({ "time?": spec(EVENT_TIME, CAP_TIME) }),
    where: object({ "sourceIp?": str, "userAgent?": str, "requestId?": str }),
    result: object({ outcome: spec(OUTCOME), "statusCode?": spec(INT) }),
    k8s: captured(
      object({
        cluster: str,
        namespace: str,
        pod: str,
        podUid: str,
        container: str,
        node: str,
        serviceAccount: str,
        policy: str,
        policyGeneration: count,
      }),
      CAP_K8S,
    ),
    source: object({
      file: spec(STR, CAP_FILE),
      offset: spec(COUNT, CAP_OFFSET),
      length: count,
      lineHash: spec(HEX64, CAP_LINE_HASH),
    }),
    raw: str,
    "rawTruncated?": spec(TRUE),
    violations: arrayOf(str),
    redactions: arrayOf(str),
  }),
});
const ANY_SPEC = spec(ANY);

/** A format problem: thrown inside the scan, turned into a result at its top. */
class Fault {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

const utf8 = new TextDecoder("utf-8");
const EMPTY = new Uint8Array(0);
const EMPTY_VIEW = new DataView(new ArrayBuffer(0));

class Scanner {
  b: Uint8Array = EMPTY;
  n = 0;
  i = 0;
  maxDepth = 32;
  /** The first canonical-form problem seen; the scan goes on to look for format ones. */
  noncanonical: string | null = null;
  /** Still a LogRecord as far as scanned. */
  schema = true;
  /** Where the first lone surrogate escape or out-of-range number is. */
  odd = -1;
  // Captures: string slots hold [start, end) of the content and whether it has escapes or
  // non-ASCII bytes; number slots hold the value.
  readonly capStart = new Int32Array(CAPS);
  readonly capEnd = new Int32Array(CAPS);
  readonly capPlain = new Uint8Array(CAPS);
  readonly capNum = new Float64Array(CAPS);
  // Set by string(): whether the last string was ASCII without escapes.
  plain = true;
  // A view of the whole ArrayBuffer, kept while messages come from the same one (Buffers
  // share pooled ArrayBuffers): one DataView less per message. `base` is the message's offset.
  dv: DataView<ArrayBufferLike> = EMPTY_VIEW;
  base = 0;
  /** The last origin and file decoded: consecutive records of a stream repeat them. */
  readonly recent: { bytes: Uint8Array; text: string }[] = [
    { bytes: EMPTY, text: "" },
    { bytes: EMPTY, text: "" },
    { bytes: EMPTY, text: "" },
  ];

  scan(bytes: Uint8Array, limits: ParseLimits): ScanResult {
    if (bytes.length > limits.maxBytes) {
      return {
        kind: "format",
        message: `${bytes.length} bytes, more than ${limits.maxBytes}`,
      };
    }
    this.b = bytes;
    this.n = bytes.length;
    if (this.dv.buffer !== bytes.buffer) this.dv = new DataView(bytes.buffer);
    this.base = bytes.byteOffset;
    this.i = 0;
    this.maxDepth = limits.maxDepth;
    this.noncanonical = null;
    this.schema = true;
    this.odd = -1;
    this.capStart.fill(-1);
    try {
      // TextDecoder drops a leading BOM before JSON.parse sees it; a JCS text has none.
      if (this.n >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
        this.canonicalProblem("a byte order mark");
        this.i = 3;
      }
      this.ws();
      this.value(0, LOG_RECORD);
      this.ws();
      if (this.i < this.n) this.unexpected();
      if (this.odd >= 0) {
        // A lone surrogate escape, or a number beyond double range: never canonical, but
        // whether parseCanonical calls it a format error depends on the parsed value (a later
        // duplicate key can replace the string; whether it reaches its exact writer, which
        // refuses Infinity). These texts are rare and hostile: let it decide, to agree exactly.
        const verdict = referenceVerdict(bytes, limits);
        if (verdict !== null)
          return { kind: "format", message: `${verdict} (at byte ${this.odd})` };
      }
    } catch (err) {
      if (err instanceof Fault) return { kind: "format", message: err.message };
      throw err;
    } finally {
      this.b = EMPTY;
    }
    if (this.noncanonical !== null) {
      return {
        kind: "canonical",
        message: `bytes differ from the JCS form of their value: ${this.noncanonical}`,
      };
    }
    if (!this.schema) return { kind: "other" };
    return { kind: "log", log: this.logFields(bytes) };
  }

  private logFields(bytes: Uint8Array): LogFields {
    const prevStart = this.capStart[CAP_PREV] as number;
    return {
      origin: this.repeated(bytes, CAP_ORIGIN, 0),
      epoch: this.capNum[CAP_EPOCH] as number,
      seq: this.capNum[CAP_SEQ] as number,
      prev: prevStart < 0 ? null : this.capString(bytes, CAP_PREV),
      file: this.repeated(bytes, CAP_FILE, 1),
      offset: this.capNum[CAP_OFFSET] as number,
      lineHash: this.capString(bytes, CAP_LINE_HASH),
      k8s: this.repeatedText(bytes, CAP_K8S, 2),
    };
  }

  /** The raw text of a captured object, reused when its bytes are the ones decoded last time. */
  private repeatedText(bytes: Uint8Array, slot: number, which: number): string {
    const start = this.capStart[slot] as number;
    const end = this.capEnd[slot] as number;
    const last = this.recent[which] as { bytes: Uint8Array; text: string };
    const had = last.bytes;
    if (had.length === end - start) {
      let k = 0;
      while (k < had.length && had[k] === bytes[start + k]) k++;
      if (k === had.length) return last.text;
    }
    const text = utf8.decode(bytes.subarray(start, end));
    if (end - start <= 4096) {
      last.bytes = bytes.slice(start, end);
      last.text = text;
    }
    return text;
  }

  /** capString, reusing the string when the bytes are the ones decoded last time. */
  private repeated(bytes: Uint8Array, slot: number, which: number): string {
    const start = this.capStart[slot] as number;
    const end = this.capEnd[slot] as number;
    const last = this.recent[which] as { bytes: Uint8Array; text: string };
    const had = last.bytes;
    if (had.length === end - start && this.capPlain[slot] === 1) {
      let k = 0;
      while (k < had.length && had[k] === bytes[start + k]) k++;
      if (k === had.length) return last.text;
    }
    const text = this.capString(bytes, slot);
    if (this.capPlain[slot] === 1 && end - start <= 1024) {
      last.bytes = bytes.slice(start, end);
      last.text = text;
    }
    return text;
  }

  private capString(bytes: Uint8Array, slot: number): string {
    return decodeString(
      bytes,
      this.capStart[slot] as number,
      this.capEnd[slot] as number,
      this.capPlain[slot] === 1,
    );
  }

  private canonicalProblem(what: string, at = this.i): void {
    if (this.noncanonical === null) this.noncanonical = `${what} at byte ${at}`;
  }

  private unexpected(): never {
    if (this.i >= this.n) throw new Fault("not JSON: unexpected end of input");
    throw new Fault(
      `not JSON: unexpected byte 0x${(this.b[this.i] as number).toString(16).padStart(2, "0")} at byte ${this.i}`,
    );
  }

  /** Skips JSON whitespace, which a JCS text never has outside strings. */
  private ws(): void {
    let c = this.b[this.i];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      this.canonicalProblem("whitespace");
      do c = this.b[++this.i];
      while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09);
    }
  }

  private value(depth: number, s: Spec): void {
    const c = this.b[this.i];
    if (c === 0x22) this.stringValue(s);
    else if (c === 0x7b) {
      const start = this.i;
      this.object(depth + 1, s);
      if (s.cap >= 0) {
        this.capStart[s.cap] = start;
        this.capEnd[s.cap] = this.i;
      }
    } else if (c === 0x5b) this.array(depth + 1, s);
    else if (c === 0x2d || (c !== undefined && c >= 0x30 && c <= 0x39)) this.number(s);
    else if (c === 0x74) {
      this.literal("true");
      if (s.t !== ANY && s.t !== TRUE) this.schema = false;
    } else if (c === 0x66) {
      this.literal("false");
      if (s.t !== ANY) this.schema = false;
    } else if (c === 0x6e) {
      this.literal("null");
      if (s.t === HEX64_OR_NULL) {
        if (s.cap >= 0) this.capStart[s.cap] = -1;
      } else if (s.t !== ANY) this.schema = false;
    } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      this.ws();
      this.value(depth, s);
    } else this.unexpected();
  }

  private literal(word: string): void {
    const b = this.b;
    for (let k = 0; k < word.length; k++) {
      if (b[this.i] !== word.charCodeAt(k)) this.unexpected();
      this.i++;
    }
  }

  private object(depth: number, s: Spec): void {
    if (depth > this.maxDepth) throw new Fault(`nesting deeper than ${this.maxDepth}`);
    const b = this.b;
    let fields: Field[] | null = null;
    if (s.t === OBJECT) fields = s.fields;
    else if (s.t !== ANY) this.schema = false;
    let f = 0; // next schema field not yet seen; keys arrive sorted in a canonical text
    this.i++;
    this.ws();
    if (b[this.i] === 0x7d) {
      this.i++;
      if (fields !== null) this.missing(fields, 0);
      return;
    }
    let prevStart = -1;
    let prevEnd = -1;
    let prevPlain = true;
    for (;;) {
      if (b[this.i] !== 0x22) this.unexpected();
      const start = this.i + 1;
      let vs = ANY_SPEC;
      let end = -1;
      if (fields !== null && this.schema) {
        // Fast path: in a canonical LogRecord this key is the next schema field, perhaps after
        // absent optional ones. Fields are sorted, so the key order needs no check of its own.
        for (let k = f; k < fields.length; k++) {
          const field = fields[k] as Field;
          if (this.isKey(start, field)) {
            vs = field.spec;
            f = k + 1;
            end = start + field.name.length;
            break;
          }
          if (field.required) break;
        }
      }
      if (end >= 0) {
        this.i = end + 2; // past '":'
        prevStart = start;
        prevEnd = end;
        prevPlain = true;
      } else {
        // Any other key: not in the schema (or not in order, or a duplicate), so the record
        // is not a LogRecord, or not canonical and the order check below says so.
        if (fields !== null) this.schema = false;
        this.string();
        end = this.i - 1;
        const plain = this.plain;
        if (prevStart >= 0) {
          const order = compareKeys(b, prevStart, prevEnd, prevPlain, start, end, plain);
          if (order >= 0)
            this.canonicalProblem(order === 0 ? "a duplicate key" : "keys out of order");
        }
        prevStart = start;
        prevEnd = end;
        prevPlain = plain;
        this.ws();
        if (b[this.i] !== 0x3a) this.unexpected();
        this.i++;
      }
      // Whitespace (never canonical) is looked for only where the expected byte is not.
      this.value(depth, vs);
      let c = b[this.i];
      if (c !== 0x2c && c !== 0x7d) {
        this.ws();
        c = b[this.i];
      }
      if (c === 0x2c) {
        this.i++;
        if (b[this.i] !== 0x22) this.ws();
      } else if (c === 0x7d) {
        this.i++;
        break;
      } else this.unexpected();
    }
    if (fields !== null) this.missing(fields, f);
  }

  /** Whether the key starting at `start` is exactly the field's name, followed by `":`. */
  private isKey(start: number, field: Field): boolean {
    const words = field.words;
    const masks = field.masks;
    const count = words.length;
    if (start + 4 * count > this.n) {
      // Too near the end to read whole words: byte by byte.
      const b = this.b;
      const name = field.name;
      const len = name.length;
      for (let k = 0; k < len; k++) if (b[start + k] !== name[k]) return false;
      return b[start + len] === 0x22 && b[start + len + 1] === 0x3a;
    }
    const dv = this.dv;
    const at = this.base + start;
    for (let k = 0; k < count; k++) {
      if ((dv.getInt32(at + 4 * k, true) & (masks[k] as number)) !== words[k]) return false;
    }
    return true;
  }

  private missing(fields: Field[], from: number): void {
    for (let k = from; k < fields.length; k++)
      if ((fields[k] as Field).required) this.schema = false;
  }

  private array(depth: number, s: Spec): void {
    if (depth > this.maxDepth) throw new Fault(`nesting deeper than ${this.maxDepth}`);
    const b = this.b;
    let item = ANY_SPEC;
    if (s.t === ARRAY_OF) item = s.item as Spec;
    else if (s.t !== ANY) this.schema = false;
    this.i++;
    this.ws();
    if (b[this.i] === 0x5d) {
      this.i++;
      return;
    }
    for (;;) {
      this.value(depth, item);
      let c = b[this.i];
      if (c !== 0x2c && c !== 0x5d) {
        this.ws();
        c = b[this.i];
      }
      if (c === 0x2c) {
        this.i++;
      } else if (c === 0x5d) {
        this.i++;
        return;
      } else this.unexpected();
    }
  }

  private stringValue(s: Spec): void {
    const start = this.i + 1;
    this.string();
    const end = this.i - 1;
    const t = s.t;
    if (t === ANY || t === STR) {
      // nothing more to check
    } else if (t === STR_NONEMPTY) {
      if (end === start) this.schema = false;
    } else if (!this.plain) {
      // Every other string spec is ASCII-only: an escape or non-ASCII byte cannot match.
      this.schema = false;
    } else if (t === HEX64 || t === HEX64_OR_NULL) {
      if (end - start !== 64 || !isHex64Words(this.dv, this.base + start)) this.schema = false;
    } else if (t === EVENT_TIME) {
      if (!isEventTime(this.b, start, end)) this.schema = false;
    } else if (t === LOG) {
      if (!equalsAscii(this.b, start, end, "log")) this.schema = false;
    } else if (t === OUTCOME) {
      if (
        !equalsAscii(this.b, start, end, "success") &&
        !equalsAscii(this.b, start, end, "failure") &&
        !equalsAscii(this.b, start, end, "unknown")
      )
        this.schema = false;
    } else this.schema = false;
    if (s.cap >= 0) {
      this.capStart[s.cap] = start;
      this.capEnd[s.cap] = end;
      this.capPlain[s.cap] = this.plain ? 1 : 0;
    }
  }

  /**
   * Scans a string from its opening quote to just past its closing one, checking UTF-8, that
   * the escapes are JSON's, and that they are the ones JSON.stringify writes. Sets `plain`.
   */
  private string(): void {
    const b = this.b;
    const n = this.n;
    let i = this.i + 1;
    let plain = true;
    for (;;) {
      // The hot loop: most bytes of a record are plain ASCII inside strings. Eight at a time
      // (SWAR): two words are skipped unless a byte is < 0x20, '"', '\\' or >= 0x80; the byte
      // loop then finds which.
      const dv = this.dv;
      const base = this.base;
      while (i + 8 <= n) {
        const w = dv.getInt32(base + i, true);
        const x = dv.getInt32(base + i + 4, true);
        if ((special(w) | special(x)) !== 0) break;
        i += 8;
      }
      while (i < n && STRING_CLASS[b[i] as number] === PLAIN) i++;
      if (i >= n) {
        this.i = i;
        this.unexpected();
      }
      const cls = STRING_CLASS[b[i] as number];
      if (cls === QUOTE) break;
      plain = false;
      if (cls === BACKSLASH) {
        i = this.escape(i);
      } else if (cls === HIGH) {
        i = this.utf8(i);
      } else {
        this.i = i;
        throw new Fault(`not JSON: a raw control character in a string at byte ${i}`);
      }
    }
    this.i = i + 1;
    this.plain = plain;
  }

  /** Checks the escape at i (a backslash); returns the index after it. */
  private escape(i: number): number {
    const b = this.b;
    const c = b[i + 1];
    switch (c) {
      case 0x22: // \"
      case 0x5c: // \\
      case 0x62: // \b
      case 0x66: // \f
      case 0x6e: // \n
      case 0x72: // \r
      case 0x74: // \t
        return i + 2;
      case 0x2f: // \/: JSON, but JSON.stringify writes a plain slash
        this.canonicalProblem("an escaped slash", i);
        return i + 2;
      case 0x75: {
        const u = this.hex4(i + 2);
        if (u < 0) {
          this.i = i;
          throw new Fault(`not JSON: a bad \\u escape at byte ${i}`);
        }
        let end = i + 6;
        if (u >= 0xd800 && u <= 0xdbff) {
          // A high surrogate is only well formed followed by an escaped low one.
          const low = b[end] === 0x5c && b[end + 1] === 0x75 ? this.hex4(end + 2) : -1;
          if (low >= 0xdc00 && low <= 0xdfff) end += 6;
          else if (this.odd < 0) this.odd = i;
        } else if (u >= 0xdc00 && u <= 0xdfff) {
          if (this.odd < 0) this.odd = i;
        }
        // JSON.stringify writes \u00xx, lowercase, only for controls without a short escape.
        const short = u === 0x08 || u === 0x09 || u === 0x0a || u === 0x0c || u === 0x0d;
        if (u >= 0x20 || short || !lowercaseHex(b, i + 2)) {
          this.canonicalProblem("an escape JSON.stringify would not write", i);
        }
        return end;
      }
      default:
        this.i = i;
        if (c === undefined) this.unexpected();
        throw new Fault(`not JSON: a bad escape at byte ${i}`);
    }
  }

  /** The value of 4 hex digits at i, or -1. */
  private hex4(i: number): number {
    const b = this.b;
    if (i + 4 > this.n) return -1;
    const h0 = HEX[b[i] as number] as number;
    const h1 = HEX[b[i + 1] as number] as number;
    const h2 = HEX[b[i + 2] as number] as number;
    const h3 = HEX[b[i + 3] as number] as number;
    if ((h0 | h1 | h2 | h3) < 0) return -1;
    return (h0 << 12) | (h1 << 8) | (h2 << 4) | h3;
  }

  /** Checks one UTF-8 sequence at i (a byte >= 0x80) as TextDecoder's fatal mode does. */
  private utf8(i: number): number {
    const b = this.b;
    const c = b[i] as number;
    let len: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c === 0xe0)
        lo = 0xa0; // overlong
      else if (c === 0xed) hi = 0x9f; // UTF-16 surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c === 0xf0)
        lo = 0x90; // overlong
      else if (c === 0xf4) hi = 0x8f; // above U+10FFFF
    } else throw new Fault(`not valid UTF-8 at byte ${i}`);
    const c1 = b[i + 1];
    if (c1 === undefined || c1 < lo || c1 > hi) throw new Fault(`not valid UTF-8 at byte ${i}`);
    for (let k = 2; k < len; k++) {
      const ck = b[i + k];
      if (ck === undefined || ck < 0x80 || ck > 0xbf)
        throw new Fault(`not valid UTF-8 at byte ${i}`);
    }
    return i + len;
  }

  private number(s: Spec): void {
    const b = this.b;
    const start = this.i;
    let i = start;
    let c = b[i];
    const negative = c === 0x2d;
    if (negative) c = b[++i];
    const intStart = i;
    if (c === 0x30) c = b[++i];
    else if (c !== undefined && c >= 0x31 && c <= 0x39) {
      do c = b[++i];
      while (c !== undefined && c >= 0x30 && c <= 0x39);
    } else {
      this.i = i;
      this.unexpected();
    }
    const intEnd = i;
    let integer = true;
    if (c === 0x2e) {
      integer = false;
      c = b[++i];
      if (c === undefined || c < 0x30 || c > 0x39) {
        this.i = i;
        this.unexpected();
      }
      do c = b[++i];
      while (c !== undefined && c >= 0x30 && c <= 0x39);
    }
    if (c === 0x65 || c === 0x45) {
      integer = false;
      c = b[++i];
      if (c === 0x2b || c === 0x2d) c = b[++i];
      if (c === undefined || c < 0x30 || c > 0x39) {
        this.i = i;
        this.unexpected();
      }
      do c = b[++i];
      while (c !== undefined && c >= 0x30 && c <= 0x39);
    }
    this.i = i;
    let value: number;
    const digits = intEnd - intStart;
    if (integer && digits <= 15 && !(negative && b[intStart] === 0x30)) {
      // Below 10^15 an integer's shortest form is its digits: no need to format it back.
      value = 0;
      for (let k = intStart; k < intEnd; k++) value = value * 10 + ((b[k] as number) - 0x30);
      if (negative) value = -value;
    } else {
      const text = latin1(b, start, i);
      value = Number(text);
      if (String(value) !== text) {
        this.canonicalProblem(`a number not in its shortest form (${text.slice(0, 40)})`, start);
        if (!Number.isFinite(value) && this.odd < 0) this.odd = start;
      }
    }
    const t = s.t;
    if (t === ANY) return;
    if (t === COUNT) {
      if (!(Number.isSafeInteger(value) && value >= 0)) this.schema = false;
    } else if (t === INT) {
      if (!Number.isSafeInteger(value)) this.schema = false;
    } else if (t === ONE) {
      if (value !== 1) this.schema = false;
    } else this.schema = false;
    if (s.cap >= 0) this.capNum[s.cap] = value;
  }
}

function lowercaseHex(b: Uint8Array, i: number): boolean {
  for (let k = i; k < i + 4; k++) {
    const c = b[k] as number;
    if (c >= 0x41 && c <= 0x46) return false;
  }
  return true;
}

/**
 * Whether the 64 bytes at `at` are lowercase hex, four at a time: with no byte >= 0x80, adding (0x80 - lo) to every byte sets
 * its high bit exactly when the byte is >= lo, with no carry into the next byte.
 */
function isHex64Words(dv: DataView<ArrayBufferLike>, at: number): boolean {
  for (let k = 0; k < 64; k += 4) {
    const w = dv.getInt32(at + k, true);
    if ((w & 0x80808080) !== 0) return false;
    const digit = ((w + 0x50505050) | 0) & ~((w + 0x46464646) | 0); // 0x30..0x39
    const letter = ((w + 0x1f1f1f1f) | 0) & ~((w + 0x19191919) | 0); // 0x61..0x66
    if (((digit | letter) & 0x80808080) !== (0x80808080 | 0)) return false;
  }
  return true;
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;

/** /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/ over ASCII bytes. */
function isEventTime(b: Uint8Array, start: number, end: number): boolean {
  const len = end - start;
  if (len !== 20 && (len < 22 || len > 30)) return false;
  for (let k = 0; k < 19; k++) {
    const c = b[start + k];
    const sep = k === 4 || k === 7 ? 0x2d : k === 10 ? 0x54 : k === 13 || k === 16 ? 0x3a : 0;
    if (sep !== 0 ? c !== sep : !isDigit(c)) return false;
  }
  if (b[end - 1] !== 0x5a) return false;
  if (len === 20) return true;
  if (b[start + 19] !== 0x2e) return false;
  for (let k = start + 20; k < end - 1; k++) if (!isDigit(b[k])) return false;
  return true;
}

function equalsAscii(b: Uint8Array, start: number, end: number, s: string): boolean {
  if (end - start !== s.length) return false;
  for (let k = 0; k < s.length; k++) if (b[start + k] !== s.charCodeAt(k)) return false;
  return true;
}

/**
 * Nonzero when one of the four bytes of w is < 0x20, '"' (0x22), '\\' (0x5c) or >= 0x80: the
 * "has a byte less than n" and "has a zero byte" word tricks. Exact when it says zero.
 */
function special(w: number): number {
  const q = w ^ 0x22222222;
  const s = w ^ 0x5c5c5c5c;
  return (
    ((((w - 0x20202020) | 0) & ~w) |
      w |
      (((q - 0x01010101) | 0) & ~q) |
      (((s - 0x01010101) | 0) & ~s)) &
    0x80808080
  );
}

/** Whether the key starting at `start` is exactly `name`, followed by its colon. */

/**
 * Orders two keys by their UTF-16 code units, as JCS sorts them. Plain ASCII keys compare as
 * bytes; others (escapes, or UTF-8 whose byte order differs from UTF-16's above U+FFFF) are
 * decoded first.
 */
function compareKeys(
  b: Uint8Array,
  s1: number,
  e1: number,
  plain1: boolean,
  s2: number,
  e2: number,
  plain2: boolean,
): number {
  if (plain1 && plain2) {
    const l1 = e1 - s1;
    const l2 = e2 - s2;
    const m = Math.min(l1, l2);
    for (let k = 0; k < m; k++) {
      const d = (b[s1 + k] as number) - (b[s2 + k] as number);
      if (d !== 0) return d;
    }
    return l1 - l2;
  }
  const k1 = decodeString(b, s1, e1, plain1);
  const k2 = decodeString(b, s2, e2, plain2);
  return k1 < k2 ? -1 : k1 === k2 ? 0 : 1;
}

type LatinSlicer = Buffer & { latin1Slice(start: number, end: number): string };
const HAS_LATIN1_SLICE = typeof (Buffer.prototype as LatinSlicer).latin1Slice === "function";

/** ASCII bytes as a flat string (a Buffer's native latin1 decoding when it is one). */
function latin1(b: Uint8Array, start: number, end: number): string {
  // latin1Slice is what Buffer's toString("latin1") calls, without its argument handling.
  if (HAS_LATIN1_SLICE && b instanceof Buffer) return (b as LatinSlicer).latin1Slice(start, end);
  if (b instanceof Buffer) return b.toString("latin1", start, end);
  // One argument per byte: only for short runs, or the call stack overflows.
  if (end - start <= 1024)
    return String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
  return utf8.decode(b.subarray(start, end));
}

/** The value of a scanned string's content [start, end). */
function decodeString(b: Uint8Array, start: number, end: number, plain: boolean): string {
  if (plain) {
    return latin1(b, start, end);
  }
  return JSON.parse(utf8.decode(b.subarray(start - 1, end + 1))) as string;
}

/** parseCanonical's message when it calls the bytes a format error; null otherwise. */
function referenceVerdict(bytes: Uint8Array, limits: ParseLimits): string | null {
  try {
    parseCanonical(bytes, limits);
    return null;
  } catch (err) {
    if (err instanceof CanonicalError && err.kind === "not-canonical") return null;
    return (err as Error).message;
  }
}

const scanner = new Scanner();

/**
 * Scans one message. Synchronous and not re-entrant, so one scanner serves every call.
 */
export function scanRecord(bytes: Uint8Array, limits: ParseLimits): ScanResult {
  return scanner.scan(bytes, limits);
}
