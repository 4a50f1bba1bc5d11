// Golden files per format (test/fixtures/normalize/<format>/: input.log, options.json and the
// expected golden.jsonl; UPDATE_GOLDEN=1 rewrites them, to be read and committed on purpose),
// and properties that hold for any input: never throws, never drops, deterministic.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalize } from "../canonical.ts";
import { AuditEvent, type KubernetesIdentity } from "../record.ts";
import { createNormalizer } from "./normalizer.ts";
import { NormalizeOptions, PRESETS } from "./options.ts";

const fixtures = new URL("../../test/fixtures/normalize/", import.meta.url).pathname;
const identity: KubernetesIdentity = {
  cluster: "prod-eu",
  namespace: "payments",
  pod: "payments-api-7d9f-abcde",
  podUid: "6f1c2a9e-0000-4000-8000-000000000001",
  container: "api",
  node: "node-3",
  serviceAccount: "payments-api",
  policy: "payments-api",
  policyGeneration: 3,
};

/** Splits a file into lines as the tailer does: by \n, keeping the bytes as they are. */
function lines(buf: Buffer): { bytes: Buffer; offset: number }[] {
  const out: { bytes: Buffer; offset: number }[] = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0x0a) {
      out.push({ bytes: buf.subarray(start, i), offset: start });
      start = i + 1;
    }
  }
  return out;
}

describe("golden files", () => {
  for (const format of readdirSync(fixtures)) {
    it(format, () => {
      const dir = join(fixtures, format);
      const options = NormalizeOptions.parse(
        JSON.parse(readFileSync(join(dir, "options.json"), "utf8")),
      );
      const normalize = createNormalizer(options, identity);
      const out = lines(readFileSync(join(dir, "input.log"))).map((l) => {
        const r = normalize(l.bytes, { file: "/var/log/app/access.log", offset: l.offset });
        if (r.kind === "event") expect(AuditEvent.safeParse(r.event).success).toBe(true);
        return canonicalize(r);
      });
      const golden = join(dir, "golden.jsonl");
      if (process.env.UPDATE_GOLDEN) writeFileSync(golden, `${out.join("\n")}\n`);
      expect(out).toEqual(readFileSync(golden, "utf8").trimEnd().split("\n"));
    });
  }
});

describe("any input", () => {
  const formats = ["json", "combined", "common", "logfmt", ...PRESETS] as const;
  it("never throws, always gives a valid event or an exclusion, and is deterministic", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...formats),
        fc.uint8Array({ maxLength: 400 }),
        (format, bytes) => {
          const normalize = createNormalizer(
            NormalizeOptions.parse({
              format,
              maxLineBytes: 256,
              required: ["actor"],
              redact: [{ pattern: "a+" }],
            }),
            identity,
          );
          const a = normalize(bytes, { file: "/f", offset: 7 });
          const b = normalize(bytes, { file: "/f", offset: 7 });
          expect(canonicalize(a)).toBe(canonicalize(b));
          if (a.kind === "event") {
            expect(AuditEvent.safeParse(a.event).success).toBe(true);
            expect(Buffer.byteLength(a.event.raw)).toBeLessThanOrEqual(256);
            expect(a.event.violations).toContain("missing: actor");
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("keeps the hash of the original line whatever redaction does", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (secret) => {
        const normalize = createNormalizer(
          NormalizeOptions.parse({ format: "logfmt", redact: [{ field: "password" }] }),
          identity,
        );
        const line = Buffer.from(`user=alice password=${JSON.stringify(secret)}`);
        const r = normalize(line, { file: "/f", offset: 0 });
        if (r.kind !== "event") throw new Error("excluded");
        expect(r.event.source.lineHash).toMatch(/^[0-9a-f]{64}$/);
        if (secret.length > 0 && !secret.includes("\\") && !secret.includes('"')) {
          expect(r.event.raw).not.toContain(`password=${JSON.stringify(secret)}`);
          expect(r.event.redactions).toEqual(["field:password"]);
        }
      }),
    );
  });

  it("uses the reader's length and hash for a line it had to cut", () => {
    const normalize = createNormalizer(
      NormalizeOptions.parse({ format: "json", maxLineBytes: 256 }),
      identity,
    );
    const r = normalize(Buffer.from('{"a":'), {
      file: "/f",
      offset: 0,
      fullLength: 5_000_000,
      fullHash: "ab".repeat(32),
    });
    if (r.kind !== "event") throw new Error("excluded");
    expect(r.event.source).toMatchObject({ length: 5_000_000, lineHash: "ab".repeat(32) });
    expect(r.event.violations).toContain("line-too-long");
    expect(r.event.rawTruncated).toBe(true);
  });
});

describe("the sealer's direct writer of log records", () => {
  it("gives exactly the canonical bytes of any event the normalizer makes", async () => {
    const { logLeafJson } = await import("../event-bytes.ts");
    fc.assert(
      fc.property(
        fc.constantFrom("json", "logfmt", "combined"),
        fc.string({ unit: "binary", maxLength: 300 }),
        fc.option(fc.string({ unit: "binary", maxLength: 20 })),
        (format, text, extra) => {
          const normalize = createNormalizer(
            NormalizeOptions.parse({
              format,
              fields:
                format === "json"
                  ? {
                      actor: "a",
                      roles: "r",
                      time: "t",
                      statusCode: "s",
                      requestId: "q",
                      sourceIp: "i",
                    }
                  : {},
              redact: [{ pattern: "x" }],
            }),
            identity,
          );
          const lines = [
            text,
            JSON.stringify({
              a: text,
              r: [text, extra ?? "z"],
              t: extra,
              s: 200,
              q: extra,
              i: `${text}, 10.0.0.1`,
            }),
          ];
          for (const line of lines) {
            const r = normalize(Buffer.from(line), { file: `/f/${extra ?? ""}`, offset: 3 });
            if (r.kind !== "event") continue;
            const record = {
              v: 1,
              origin: "o",
              epoch: 2,
              seq: 9,
              prev: null,
              type: "log",
              event: r.event,
            };
            expect(logLeafJson("o", 2, 9, null, r.event)).toBe(canonicalize(record));
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it("does not depend on the key order of the event it is given, nor trust prev", async () => {
    const { logLeafJson } = await import("../event-bytes.ts");
    const event = {
      where: { userAgent: "ua", requestId: "r-1", sourceIp: "10.0.0.1" },
      who: { roles: ["b", "a"], actorType: "user", actor: "alice" },
      what: { resource: "/x", action: "GET" },
      when: { time: "2026-11-23T10:00:00.000Z" },
      result: { statusCode: 404, outcome: "failure" as const },
      source: { offset: 7, lineHash: "ab".repeat(32), length: 3, file: "/f" },
      violations: ["missing: actor"],
      redactions: ["pattern:0"],
      rawTruncated: true as const,
      raw: 'a "quoted" \u2028 line',
      k8s: { ...identity },
    };
    for (const prev of [null, "0f".repeat(32), 'not "hex"']) {
      const record = { v: 1, origin: "o\n", epoch: 2, seq: 9, prev, type: "log", event };
      expect(logLeafJson("o\n", 2, 9, prev, event)).toBe(canonicalize(record));
    }
  });
});
