// The accuracy corpus (test/fixtures/accuracy/<source>/: input.log, options.json and the
// expected golden.jsonl, provenance in SOURCES.md): every field of every record is compared,
// so a wrong who or where on a real line fails here. UPDATE_GOLDEN=1 rewrites the goldens, to
// be read line by line and committed on purpose. Beside the goldens, cross-checks that hold
// for any source: an address is an address, a placeholder is never a value, a status is
// HTTP's, a method is a token, and every record is valid.
import { readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { corpusSources, normalizeSource } from "../../bench/accuracy-corpus.ts";
import { canonicalize } from "../../entry/canonical.ts";
import { PRESETS } from "../../entry/normalize/options.ts";
import { AuditEvent } from "../../entry/record.ts";

const sources = corpusSources();

describe("accuracy corpus", () => {
  it("has a source per preset and the issue's json, logfmt and regex cases", () => {
    expect(sources).toEqual(
      expect.arrayContaining([...PRESETS, "json-app", "logfmt-app", "regex-app"]),
    );
  });

  for (const source of sources) {
    it(`${source}: every field of every record is the golden one`, () => {
      const { dir, results } = normalizeSource(source);
      const lines = results.map((r) => canonicalize(r));
      const golden = join(dir, "golden.jsonl");
      if (process.env.UPDATE_GOLDEN) writeFileSync(golden, `${lines.join("\n")}\n`);
      expect(lines).toEqual(readFileSync(golden, "utf8").trimEnd().split("\n"));
    });

    it(`${source}: no silent wrong value`, () => {
      const { options, results } = normalizeSource(source);
      const placeholders = new Set(options.placeholders);
      const methods = !["json", "logfmt", "regex"].includes(options.format);
      expect(results.length).toBeGreaterThan(2);
      for (const r of results) {
        if (r.kind !== "event") continue;
        const e = r.event;
        expect(AuditEvent.safeParse(e).success).toBe(true);
        if (e.where.sourceIp !== undefined) expect(isIP(e.where.sourceIp)).not.toBe(0);
        for (const hop of e.where.forwardedFor ?? [])
          if (isIP(hop) === 0) expect(e.violations).toContain("invalid: forwardedFor");
        for (const v of [e.who.actor, e.what.action, e.what.resource, e.where.userAgent]) {
          if (v === undefined) continue;
          expect(v.trim()).not.toBe("");
          expect(placeholders.has(v.trim())).toBe(false);
        }
        const code = e.result.statusCode;
        if (code !== undefined) expect(code >= 100 && code <= 599).toBe(true);
        if (methods && e.what.action !== undefined)
          expect(e.what.action).toMatch(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/);
      }
    });
  }
});
