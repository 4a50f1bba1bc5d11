// The accuracy corpus (test/fixtures/accuracy/<source>/: input.log, options.json and the
// expected golden.jsonl, provenance in SOURCES.md): every field of every record is compared,
// so a wrong who or where on a real line fails here. UPDATE_GOLDEN=1 rewrites the goldens, to
// be read line by line and committed on purpose. Beside the goldens, cross-checks that hold
// for any source: an address is an address, a placeholder is never an actor, a status is
// HTTP's, and every record is valid.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canonicalize } from "../canonical.ts";
import { AuditEvent, type KubernetesIdentity } from "../record.ts";
import { createNormalizer } from "./normalizer.ts";
import { NormalizeOptions } from "./options.ts";

const corpus = new URL("../../test/fixtures/accuracy/", import.meta.url).pathname;
const identity: KubernetesIdentity = {
  cluster: "accuracy",
  namespace: "web",
  pod: "edge-0",
  podUid: "00000000-0000-4000-8000-000000000014",
  container: "proxy",
  node: "node-1",
  serviceAccount: "edge",
  policy: "edge",
  policyGeneration: 1,
};

function normalizeSource(source: string) {
  const dir = join(corpus, source);
  const options = NormalizeOptions.parse(
    JSON.parse(readFileSync(join(dir, "options.json"), "utf8")),
  );
  const normalize = createNormalizer(options, identity);
  const text = readFileSync(join(dir, "input.log"));
  const out = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== 0x0a) continue;
    out.push(normalize(text.subarray(start, i), { file: `/var/log/${source}.log`, offset: start }));
    start = i + 1;
  }
  return { dir, out, placeholders: new Set(options.placeholders) };
}

const sources = readdirSync(corpus, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);

describe("accuracy corpus", () => {
  it("has the sources the presets and the issue's classes need", () => {
    expect(sources).toEqual(
      expect.arrayContaining([
        "nginx",
        "apache-vhost",
        "ingress-nginx",
        "traefik-json",
        "caddy-json",
        "envoy-json",
        "envoy-text",
        "haproxy-http",
        "json-app",
        "logfmt-app",
        "regex-app",
      ]),
    );
  });

  for (const source of sources) {
    it(`${source}: every field of every record is the golden one`, () => {
      const { dir, out } = normalizeSource(source);
      const lines = out.map((r) => canonicalize(r));
      const golden = join(dir, "golden.jsonl");
      if (process.env.UPDATE_GOLDEN) writeFileSync(golden, `${lines.join("\n")}\n`);
      expect(lines).toEqual(readFileSync(golden, "utf8").trimEnd().split("\n"));
    });

    it(`${source}: no silent wrong value`, () => {
      const { out, placeholders } = normalizeSource(source);
      expect(out.length).toBeGreaterThan(2);
      for (const r of out) {
        if (r.kind !== "event") continue;
        const e = r.event;
        expect(AuditEvent.safeParse(e).success).toBe(true);
        if (e.where.sourceIp !== undefined) expect(isIP(e.where.sourceIp)).not.toBe(0);
        for (const v of [e.who.actor, e.what.action, e.what.resource, e.where.userAgent]) {
          if (v === undefined) continue;
          expect(v.trim()).not.toBe("");
          expect(placeholders.has(v.trim())).toBe(false);
        }
        const code = e.result.statusCode;
        if (code !== undefined) expect(code >= 100 && code <= 599).toBe(true);
        if (e.what.action !== undefined && source !== "json-app")
          expect(e.what.action).toMatch(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/);
      }
    });
  }
});
