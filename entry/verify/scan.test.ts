// The scanner against its references: parseCanonical for accept/reject and the kind of error
// (canonical vs format), the zod LogRecord schema for which records it vouches for, and
// JSON.parse for the fields it extracts.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CanonicalError,
  canonicalBytes,
  canonicalize,
  DEFAULT_LIMITS,
  type ParseLimits,
  parseCanonical,
} from "../canonical.ts";
import { digestHex, leafHash } from "../merkle.ts";
import { CheckpointMessage, KeyCertMessage, LeafRecord, LogRecord } from "../record.ts";
import { Ingest, sourceKey } from "./ingest.ts";
import { scanRecord } from "./scan.ts";
import { StreamBuilder, sampleEvent } from "./testing.ts";

type Verdict = "ok" | "canonical" | "format";
type Obj = Record<string, unknown>;

function reference(bytes: Uint8Array, limits: ParseLimits = DEFAULT_LIMITS): Verdict {
  try {
    parseCanonical(bytes, limits);
    return "ok";
  } catch (err) {
    if (!(err instanceof CanonicalError)) throw err;
    return err.kind === "not-canonical" ? "canonical" : "format";
  }
}

function scanned(bytes: Uint8Array, limits: ParseLimits = DEFAULT_LIMITS): Verdict {
  const r = scanRecord(bytes, limits);
  return r.kind === "log" || r.kind === "other" ? "ok" : r.kind;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * What the scanner must say: parseCanonical's verdict, except where the scanner is deliberately
 * stricter (a leading byte order mark, which TextDecoder strips before JSON.parse sees it).
 */
function expected(bytes: Uint8Array, limits: ParseLimits = DEFAULT_LIMITS): Verdict {
  if (bytes.length <= limits.maxBytes && Buffer.from(bytes.subarray(0, 3)).equals(BOM)) {
    const rest = reference(bytes.subarray(3), limits);
    return rest === "ok" ? "canonical" : rest;
  }
  return reference(bytes, limits);
}

/** Verdicts seen, so a property can show it exercised every outcome, not only one. */
const seen = new Set<Verdict>();

function agree(bytes: Uint8Array, limits: ParseLimits = DEFAULT_LIMITS): void {
  const want = expected(bytes, limits);
  seen.add(want);
  expect(scanned(bytes, limits), Buffer.from(bytes).toString("latin1").slice(0, 300)).toBe(want);
}

/** parseCanonical drops `__proto__` keys on one of its paths (see scan.ts): leave them out. */
function hasProtoKey(v: unknown): boolean {
  if (typeof v !== "object" || v === null) return false;
  if (Array.isArray(v)) return v.some(hasProtoKey);
  return Object.keys(v).some((k) => k === "__proto__" || hasProtoKey((v as Obj)[k]));
}

const json = fc
  .oneof(
    fc.jsonValue({ maxDepth: 5 }),
    fc.jsonValue({ maxDepth: 4, stringUnit: "binary" }),
    fc.jsonValue({ maxDepth: 4, stringUnit: "grapheme" }),
    // Keys that sort differently as numbers, code points and code units.
    fc.dictionary(
      fc.constantFrom("1", "10", "2", "a", "é", "\u{1F600}", "\uFFFF", "\u{10000}", "\n", ""),
      fc.jsonValue({ maxDepth: 2 }),
    ),
  )
  .filter((v) => !hasProtoKey(v));

/** Canonical text of a JSON value, or undefined when it cannot have one (lone surrogates). */
function jcs(v: unknown): string | undefined {
  try {
    return canonicalize(v);
  } catch {
    return undefined;
  }
}

type Mutation = "swap" | "dup" | "uescape" | "uescapeUpper" | "slash" | "number";

/** JCS, but with one non-canonical spelling at the `at`-th place the mutation applies to. */
function writeMutated(v: unknown, mutation: Mutation, at: number, variant: number): string {
  let seen = 0;
  const hit = () => seen++ === at;
  const str = (s: string): string => {
    const plain = JSON.stringify(s);
    if (s.length === 0) return plain;
    if ((mutation === "uescape" || mutation === "uescapeUpper") && hit()) {
      const k = variant % s.length;
      let hex = (s.charCodeAt(k) as number).toString(16).padStart(4, "0");
      if (mutation === "uescapeUpper") hex = hex.toUpperCase();
      return `${JSON.stringify(s.slice(0, k)).slice(0, -1)}\\u${hex}${JSON.stringify(s.slice(k + 1)).slice(1)}`;
    }
    if (mutation === "slash" && hit()) return `${plain.slice(0, -1)}\\/"`;
    return plain;
  };
  const num = (n: number): string => {
    const plain = JSON.stringify(n);
    if (mutation !== "number" || !hit()) return plain;
    const forms = [
      Number.isInteger(n) ? `${plain}.0` : `${plain}0`,
      `${plain}e0`,
      `${plain}E+0`,
      n === 0 ? "-0" : `${plain}e-0`,
      `0${plain}`,
      `${plain}.`,
      "9007199254740993",
      "1e400",
    ];
    return forms[variant % forms.length] as string;
  };
  const write = (x: unknown): string => {
    if (x === null) return "null";
    if (typeof x === "boolean") return String(x);
    if (typeof x === "number") return num(x);
    if (typeof x === "string") return str(x);
    if (Array.isArray(x)) return `[${x.map(write).join(",")}]`;
    const o = x as Obj;
    const keys = Object.keys(o).sort();
    const members = keys.map((k) => `${str(k)}:${write(o[k])}`);
    if (mutation === "swap" && members.length >= 2 && hit()) {
      const k = variant % (members.length - 1);
      [members[k], members[k + 1]] = [members[k + 1] as string, members[k] as string];
    }
    if (mutation === "dup" && members.length >= 1 && hit()) {
      const k = variant % members.length;
      members.splice(
        k + 1,
        0,
        `${str(keys[k] as string)}:${variant % 2 ? "1" : write(o[keys[k] as string])}`,
      );
    }
    return `{${members.join(",")}}`;
  };
  return write(v);
}

const bytesOf = (s: string): Buffer => Buffer.from(s, "utf8");

function insert(b: Uint8Array, at: number, what: Uint8Array): Buffer {
  const k = at % (b.length + 1);
  return Buffer.concat([b.subarray(0, k), what, b.subarray(k)]);
}

const BAD_UTF8 = [
  [0x80],
  [0xbf],
  [0xc0, 0x80], // overlong NUL
  [0xc1, 0xbf],
  [0xc2],
  [0xe0, 0x80, 0x80], // overlong
  [0xe0, 0x9f, 0xbf],
  [0xed, 0xa0, 0x80], // a UTF-16 surrogate, UTF-8 encoded
  [0xed, 0xbf, 0xbf],
  [0xe2, 0x82],
  [0xf0, 0x80, 0x80, 0x80],
  [0xf0, 0x8f, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0xf5, 0x80, 0x80, 0x80],
  [0xff],
  [0xef, 0xbb, 0xbf], // a BOM inside is valid UTF-8
  [0xf0, 0x9f, 0x98, 0x80], // valid
  [0xee, 0x80, 0x80], // valid, U+E000
].map((b) => Buffer.from(b));

const SURROGATE_ESCAPES = [
  "\\ud800",
  "\\udc00",
  "\\uDBFF",
  "\\ud83d\\ude00",
  "\\ud83d",
  "\\ude00\\ud83d",
  "\\ud83d\\u0041",
  "\\ud800\\ud800",
].map(bytesOf);

describe("scanRecord agrees with parseCanonical", () => {
  it("accepts the canonical text of any JSON value", () => {
    fc.assert(
      fc.property(json, (v) => {
        const text = jcs(v);
        if (text === undefined) return;
        expect(scanned(bytesOf(text))).toBe("ok");
        agree(bytesOf(text));
      }),
      { numRuns: 2000 },
    );
  });

  it("on non-canonical spellings: swapped or duplicate keys, escapes, numbers", () => {
    seen.clear();
    fc.assert(
      fc.property(
        json,
        fc.constantFrom<Mutation>("swap", "dup", "uescape", "uescapeUpper", "slash", "number"),
        fc.nat(20),
        fc.nat(),
        (v, mutation, at, variant) => {
          if (jcs(v) === undefined) return;
          agree(bytesOf(writeMutated(v, mutation, at, variant)));
        },
      ),
      { numRuns: 4000 },
    );
    expect([...seen].sort()).toEqual(["canonical", "format", "ok"]);
  });

  it("on whitespace anywhere", () => {
    fc.assert(
      fc.property(json, fc.nat(), fc.constantFrom(" ", "\t", "\n", "\r", "  \n"), (v, at, ws) => {
        const text = jcs(v);
        if (text === undefined) return;
        agree(insert(bytesOf(text), at, bytesOf(ws)));
      }),
      { numRuns: 1000 },
    );
  });

  it("on random byte changes, truncations and insertions", () => {
    seen.clear();
    fc.assert(
      fc.property(
        json,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 3,
        }),
        fc.nat(),
        fc.boolean(),
        (v, flips, cut, truncate) => {
          const text = jcs(v);
          if (text === undefined) return;
          const b = bytesOf(text);
          for (const [at, x] of flips) {
            if (b.length > 0) b[at % b.length] = (b[at % b.length] as number) ^ x;
          }
          agree(b);
          if (truncate) agree(b.subarray(0, cut % (b.length + 1)));
        },
      ),
      { numRuns: 4000 },
    );
    expect([...seen].sort()).toEqual(["canonical", "format", "ok"]);
  });

  it("on invalid (and valid) UTF-8 sequences, in and out of strings", () => {
    fc.assert(
      fc.property(
        json,
        fc.nat(),
        fc.constantFrom(...BAD_UTF8),
        fc.boolean(),
        (v, at, seq, inString) => {
          const text = jcs(v);
          if (text === undefined) return;
          const b = bytesOf(text);
          // Right after an opening quote lands inside a string; anywhere else, mostly not.
          const quotes = [...b.keys()].filter((k) => b[k] === 0x22);
          const k = inString && quotes.length > 0 ? (quotes[at % quotes.length] as number) + 1 : at;
          agree(insert(b, k, seq));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("on lone and paired surrogate escapes, also under duplicate keys", () => {
    fc.assert(
      fc.property(json, fc.nat(), fc.constantFrom(...SURROGATE_ESCAPES), (v, at, esc) => {
        const text = jcs(v);
        if (text === undefined) return;
        const b = bytesOf(text);
        const quotes = [...b.keys()].filter((k) => b[k] === 0x22);
        if (quotes.length === 0) return;
        agree(insert(b, (quotes[at % quotes.length] as number) + 1, esc));
      }),
      { numRuns: 2000 },
    );
    for (const t of [
      '{"a":"\\ud800","a":1}',
      '{"a":1,"a":"\\ud800"}',
      '{"a":{"b":["\\udc00"]},"a":0}',
      '{"\\ud800":1,"\\ud800":2}',
      '{"b":"\\ud800","a":1}',
      '["\\ud800"," "]',
      '{"a":"\\ud800"} ',
    ])
      agree(bytesOf(t));
  });

  it("on deep nesting and small limits", () => {
    fc.assert(
      fc.property(
        json,
        fc.integer({ min: 0, max: 40 }),
        fc.constantFrom("[", '{"k":', '[1,{"a":'),
        (v, depth, open) => {
          const text = jcs(v);
          if (text === undefined) return;
          const close = open === "[" ? "]" : open === '{"k":' ? "}" : "}]";
          agree(bytesOf(open.repeat(depth) + text + close.repeat(depth)));
          agree(bytesOf(open.repeat(depth) + text));
        },
      ),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(json, fc.integer({ min: 1, max: 6 }), fc.nat(200), (v, maxDepth, maxBytes) => {
        const text = jcs(v);
        if (text === undefined) return;
        agree(bytesOf(text), { maxDepth, maxBytes });
      }),
      { numRuns: 1000 },
    );
  });

  it("on text made of JSON's own characters", () => {
    const token = fc.constantFrom(
      ...'{}[],:"\\ 0123456789-+.eEtrufalsn/bfnrtu'.split(""),
      '"a"',
      '"b"',
      "\\u00",
      "true",
      "null",
      "1.5",
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 30 }), (tokens) => {
        agree(bytesOf(tokens.join("")));
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (b) => agree(b)),
      { numRuns: 2000 },
    );
  });

  it("on the catalog's own cases", () => {
    const cases = [
      "",
      " ",
      "{}",
      "[]",
      "0",
      "-0",
      "1.0",
      "1e3",
      "1E3",
      "1e+21",
      "1e21",
      "0.1",
      ".1",
      "01",
      "-",
      "1.",
      "9007199254740991",
      "9007199254740993",
      "123456789012345678901",
      "1e-7",
      "0.000001",
      "5e-324",
      "1e400",
      '"\\/"',
      '"/"',
      '"\\u0041"',
      '"\\u001f"',
      '"\\u001F"',
      '"\\u000a"',
      '"\\n"',
      '"\\u0000"',
      '"\\u007f"',
      '"\u007f"',
      '"\\x"',
      '"\\u12"',
      '"\t"',
      '"é"',
      '"\\u00e9"',
      '{"a":1,"b":2}',
      '{"b":1,"a":2}',
      '{"a":1,"a":1}',
      '{"10":1,"2":2}',
      '{"2":1,"10":2}',
      '{"\uFFFF":1,"\u{1F600}":2}',
      '{"\u{1F600}":1,"\uFFFF":2}',
      '{"a\\n":1,"a\\u0001":2}',
      '{"a\\u0001":1,"a\\n":2}',
      '{"a":1,}',
      "[1,]",
      '{"a" :1}',
      "tru",
      "nul",
      "true false",
      "{}{}",
      "[[[]]]",
    ];
    for (const c of cases) agree(bytesOf(c));
  });
});

describe("deliberate differences from parseCanonical", () => {
  it("a leading byte order mark is not canonical (parseCanonical accepts it)", () => {
    const b = Buffer.concat([BOM, bytesOf('{"a":1}')]);
    expect(reference(b)).toBe("ok");
    expect(scanRecord(b, DEFAULT_LIMITS)).toMatchObject({
      kind: "canonical",
      message: expect.stringMatching(/byte order mark/),
    });
  });

  it("a canonical __proto__ key is accepted (parseCanonical's sorted copy loses it)", () => {
    const b = bytesOf('{"1a":0,"__proto__":0}');
    // Its own JCS form: the keys are sorted, and the native stringify writes own properties.
    expect(JSON.stringify(JSON.parse(b.toString()))).toBe(b.toString());
    expect(reference(b)).toBe("canonical");
    expect(scanned(b)).toBe("ok");
  });
});

describe("scanRecord on records", () => {
  function fieldsOf(value: Uint8Array) {
    const r = JSON.parse(Buffer.from(value).toString()) as LogRecord;
    return {
      origin: r.origin,
      epoch: r.epoch,
      seq: r.seq,
      prev: r.prev,
      file: r.event.source.file,
      offset: r.event.source.offset,
      lineHash: r.event.source.lineHash,
      k8s: canonicalBytes(r.event.k8s).toString(),
    };
  }

  it("extracts the fields JSON.parse gives, for every log record the sealer writes", () => {
    const text = fc.string({ unit: "grapheme", maxLength: 40 });
    const event = fc.record({
      actor: fc.option(text, { nil: undefined }),
      roles: fc.option(fc.array(text, { maxLength: 3 }), { nil: undefined }),
      raw: text,
      file: fc.oneof(text, fc.constant('/var/log/"quoted"\\dir\n/é/\u{1F600}.log')),
      offset: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
      time: fc.option(
        fc
          .date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true })
          .map((d) => d.toISOString()),
        { nil: undefined },
      ),
      truncated: fc.boolean(),
      status: fc.option(fc.integer({ min: -1000, max: 1000 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(
        fc.array(event, { minLength: 1, maxLength: 8 }),
        fc.constantFrom("test/payments/api-0/api/x.log", 'ünïcode/"origin"\\\u{1F600}'),
        (events, origin) => {
          const b = new StreamBuilder({
            origin,
            seal: { entries: 3 },
            event: (i) => {
              const e = events[i % events.length] as (typeof events)[number];
              const base = sampleEvent(i, e.file);
              return {
                ...base,
                who: {
                  ...(e.actor === undefined ? {} : { actor: e.actor }),
                  ...(e.roles === undefined ? {} : { roles: e.roles }),
                },
                when: e.time === undefined ? {} : { time: e.time },
                result: {
                  outcome: "failure",
                  ...(e.status === undefined ? {} : { statusCode: e.status }),
                },
                source: { ...base.source, offset: e.offset },
                raw: e.raw,
                ...(e.truncated ? { rawTruncated: true as const } : {}),
              };
            },
          }).logs(events.length);
          b.rotateKey().logs(2);
          b.push(b.sealer.end("SIGTERM"));
          for (const m of b.messages) {
            const r = scanRecord(m.value, DEFAULT_LIMITS);
            if (m.type === "log") {
              expect(LeafRecord.safeParse(JSON.parse(m.value.toString())).success).toBe(true);
              expect(r).toEqual({ kind: "log", log: fieldsOf(m.value) });
            } else expect(r).toEqual({ kind: "other" });
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  /** Every path to a value in a record, objects' keys and arrays' indexes. */
  function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
    const out = [at];
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) out.push(...paths(v[i], [...at, i]));
    } else if (typeof v === "object" && v !== null)
      for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
    return out;
  }

  const odd: unknown[] = [
    null,
    true,
    false,
    0,
    1,
    -1,
    1.5,
    2 ** 53,
    Number.MAX_SAFE_INTEGER,
    1e21,
    "",
    "x",
    "log",
    "heartbeat",
    "success",
    "0".repeat(64),
    "0".repeat(63),
    "A".repeat(64),
    "g".repeat(64),
    "f".repeat(64),
    "9".repeat(64),
    `${"0".repeat(63)}/`,
    `${"0".repeat(63)}:`,
    `\`${"0".repeat(63)}`,
    `${"a".repeat(32)}@${"a".repeat(31)}`,
    `${"0".repeat(62)}é`,
    `${"0".repeat(63)}\u0000`,
    "2026-11-23T10:00:00Z",
    "2026-11-23T10:00:00.123456789Z",
    "2026-11-23T10:00:00.1234567890Z",
    "2026-11-23T10:00:00.Z",
    "2026-11-23 10:00:00Z",
    "2026-11-23T10:00:00+00:00",
    "2026-11-23T10:00:00.000Z\n",
    [],
    ["x"],
    [1],
    {},
    { x: 1 },
  ];

  it("vouches for a changed record exactly when the zod schema accepts it", () => {
    const b = new StreamBuilder().logs(3);
    const base = JSON.parse(
      (
        b.messages.find((m) => m.type === "log" && m.seq === 2) as { value: Buffer }
      ).value.toString(),
    ) as Obj;
    const all = paths(base).filter((p) => p.length > 0);
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.nat(all.length - 1),
            fc.oneof(
              fc.constant<"delete">("delete"),
              fc.constant<"add">("add"),
              fc.constantFrom(...odd).map((value) => ({ value })),
            ),
          ),
          { minLength: 1, maxLength: 2 },
        ),
        (changes) => {
          const v = structuredClone(base);
          for (const [k, change] of changes) {
            const path = all[k] as (string | number)[];
            let parent: unknown = v;
            for (const p of path.slice(0, -1)) parent = (parent as Obj | undefined)?.[p];
            if (typeof parent !== "object" || parent === null) continue;
            const last = path[path.length - 1] as string;
            // An earlier change may have put an array where an object was, or the reverse.
            if (Array.isArray(parent) !== (typeof last === "number")) continue;
            const target = parent as Obj;
            if (change === "delete") {
              if (Array.isArray(target)) target.splice(Number(last), 1);
              else delete target[last];
            } else if (change === "add") {
              const into = target[last];
              if (typeof into === "object" && into !== null && !Array.isArray(into))
                (into as Obj).extra = "x";
              else if (Array.isArray(into)) into.push("x");
            } else target[last] = structuredClone(change.value); // a later change may edit it
          }
          const value = bytesOf(canonicalize(v));
          const r = scanRecord(value, DEFAULT_LIMITS);
          const zod = LogRecord.safeParse(v).success;
          expect(r.kind === "log", canonicalize(v)).toBe(zod);
          if (r.kind === "log") expect(r.log).toEqual(fieldsOf(value));
          else expect(r.kind).toBe("other");
        },
      ),
      { numRuns: 3000 },
    );
    // And every odd value at each field with a pattern, deterministically.
    const patterned = [
      ["prev"],
      ["type"],
      ["v"],
      ["seq"],
      ["event", "source", "lineHash"],
      ["event", "when", "time"],
      ["event", "result", "outcome"],
      ["event", "rawTruncated"],
    ];
    for (const path of patterned) {
      for (const value of odd) {
        const v = structuredClone(base);
        let parent = v;
        for (const p of path.slice(0, -1)) parent = parent[p] as Obj;
        parent[path[path.length - 1] as string] = value;
        const r = scanRecord(bytesOf(canonicalize(v)), DEFAULT_LIMITS);
        expect(r.kind === "log", `${path.join(".")} = ${JSON.stringify(value)}`).toBe(
          LogRecord.safeParse(v).success,
        );
      }
    }
  });

  it("reads views at any offset into a larger buffer, and plain Uint8Arrays, alike", () => {
    const b = new StreamBuilder({
      event: (i) => sampleEvent(i, `/var/log/${"x".repeat(5000)}.log`),
    });
    b.logs(2);
    const value = (b.messages.find((m) => m.type === "log") as { value: Buffer }).value;
    const want = { kind: "log", log: fieldsOf(value) };
    for (let offset = 0; offset < 9; offset++) {
      // Garbage around the view: a scan that strays past either end would notice.
      const big = Buffer.alloc(value.length + 20, 0x22);
      value.copy(big, offset);
      expect(scanRecord(big.subarray(offset, offset + value.length), DEFAULT_LIMITS)).toEqual(want);
      const plain = new Uint8Array(big.buffer, big.byteOffset + offset, value.length);
      expect(scanRecord(plain, DEFAULT_LIMITS)).toEqual(want);
      expect(scanRecord(plain.slice(), DEFAULT_LIMITS)).toEqual(want);
    }
    const digits = new Uint8Array(bytesOf(`[1${"0".repeat(200_000)}]`));
    expect(scanned(digits)).toBe("canonical");
    agree(digits);
  });

  it("reports the catalog's hostile inputs with the messages the verifier shows", () => {
    expect(
      scanRecord(bytesOf(`{"v":1,"raw":"${"x".repeat(2_000_000)}"}`), DEFAULT_LIMITS),
    ).toMatchObject({ kind: "format", message: expect.stringMatching(/more than 1048576/) });
    expect(
      scanRecord(bytesOf(`${"[".repeat(200_000)}${"]".repeat(200_000)}`), DEFAULT_LIMITS),
    ).toMatchObject({ kind: "format", message: expect.stringMatching(/deeper than 32/) });
    expect(scanRecord(bytesOf('{"type":"log","v":"\\ud800"}'), DEFAULT_LIMITS)).toMatchObject({
      kind: "format",
      message: expect.stringMatching(/lone surrogate/),
    });
    expect(scanRecord(bytesOf('{"v":1.0}'), DEFAULT_LIMITS)).toMatchObject({
      kind: "canonical",
      message: expect.stringMatching(/shortest form \(1\.0\) at byte 5/),
    });
  });
});

describe("Ingest files each message as parseCanonical + zod did", () => {
  /** The first pass as it was before the scanner: what it reported, or the fact it kept. */
  function before(key: string, value: Buffer): unknown {
    let v: Obj;
    try {
      v = parseCanonical(value) as Obj;
    } catch (err) {
      return (err as CanonicalError).kind === "not-canonical" ? "NON_CANONICAL" : "BAD_FORMAT";
    }
    const isObject = typeof v === "object" && v !== null && !Array.isArray(v);
    if (isObject && v.type === "checkpoint") {
      const c = CheckpointMessage.safeParse(v);
      if (!c.success) return "BAD_FORMAT";
      if (c.data.origin !== key) return "WRONG_ORIGIN";
      return { checkpoint: c.data.epoch, note: c.data.note, range: c.data.range };
    }
    if (isObject && v.type === "key-cert") {
      const c = KeyCertMessage.safeParse(v);
      if (!c.success) return "BAD_FORMAT";
      if (c.data.origin !== key) return "WRONG_ORIGIN";
      return { cert: c.data.epoch, sig: c.data.cert.sig };
    }
    const r = LeafRecord.safeParse(v);
    if (!r.success) return "BAD_FORMAT";
    if (r.data.origin !== key) return "WRONG_ORIGIN";
    const leaf = r.data;
    return {
      seq: leaf.seq,
      epoch: leaf.epoch,
      type: leaf.type,
      hash: leafHash(value).toString("hex"),
      prev: leaf.prev,
      ...(leaf.type === "log"
        ? {
            source: `${leaf.event.source.file}\u0000${leaf.event.source.offset}\u0000${leaf.event.source.lineHash}`,
          }
        : {}),
    };
  }

  function now(key: string, value: Buffer): unknown {
    const ingest = new Ingest(DEFAULT_LIMITS);
    ingest.add({ key, value, position: "#0" });
    if (ingest.findings.length > 0) return ingest.findings.map((f) => f.code).join(",");
    const s = [...ingest.streams.values()][0];
    const c = s?.checkpoints[0];
    if (c) return { checkpoint: c.epoch, note: c.note, range: c.range };
    const cert = s?.certs[0];
    if (cert) return { cert: cert.epoch, sig: cert.cert.sig };
    const l = s && s.leaves.length > 0 ? s.leaves.fact(0) : undefined;
    if (!l) return "nothing";
    return {
      seq: l.seq,
      epoch: l.epoch,
      type: l.type,
      hash: digestHex(l.hash),
      prev: l.prev,
      ...(sourceKey(l) === undefined ? {} : { source: sourceKey(l) }),
    };
  }

  const b = new StreamBuilder({ seal: { entries: 4 } }).logs(6);
  b.rotateKey();
  b.push(
    b.sealer.appendGap({
      reason: "truncated",
      file: "/var/log/app/access.log",
      lostFrom: 1,
      lostTo: 2,
    }),
  );
  b.logs(3).push(b.sealer.end("SIGTERM"));

  it("for every message of a stream, untouched, damaged or under another key", () => {
    fc.assert(
      fc.property(
        fc.nat(b.messages.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 2 }),
        fc.option(fc.nat()),
        fc.boolean(),
        (i, changes, cut, otherKey) => {
          const m = b.messages[i] as { value: Buffer };
          let value = Buffer.from(m.value);
          for (const [at, x] of changes)
            value[at % value.length] = (value[at % value.length] as number) ^ x;
          if (cut !== null) value = value.subarray(0, cut % (value.length + 1));
          if (value.subarray(0, 3).equals(BOM)) return;
          const key = otherKey ? "test/other/stream" : b.origin;
          expect(now(key, value)).toEqual(before(key, value));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
