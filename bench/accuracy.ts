// `npm run bench:accuracy`: how accurate the normalizer is on the corpus of real lines
// (test/fixtures/accuracy/, or the folder given as the first argument, same layout). Per source:
// the share of lines fully structured (a record with no violation), violations by kind, and any
// field a cross-check finds suspect that no violation speaks for: a sourceIp or a forwarded hop
// that is not an IP, an actor or other text that is empty or a placeholder, a status outside
// 100-599, a method that is not an HTTP token. A silent suspect value fails the run.
// Not a test: it prints a report; the corpus test holds the same lines to their goldens.

import { isIP } from "node:net";
import type { AuditEvent } from "../entry/record.ts";
import { CORPUS, corpusSources, normalizeSource } from "./accuracy-corpus.ts";

const root = process.argv[2] ?? CORPUS;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A violation's kind: without the placeholder it names or the parser's reason. */
function kind(violation: string): string {
  if (violation.startsWith("unparseable")) return "unparseable";
  return violation.replace(/ \(.*\)$/, "");
}

/** Fields that look wrong, each unless a violation already says so. */
function suspects(e: AuditEvent, placeholders: ReadonlySet<string>, methods: boolean): string[] {
  const out: string[] = [];
  const said = (v: string) => e.violations.includes(v);
  if (e.where.sourceIp !== undefined && isIP(e.where.sourceIp) === 0)
    out.push(`sourceIp not an IP: ${e.where.sourceIp}`);
  for (const hop of e.where.forwardedFor ?? [])
    if (isIP(hop) === 0 && !said("invalid: forwardedFor"))
      out.push(`forwarded hop not an IP: ${hop}`);
  const texts = {
    actor: e.who.actor,
    action: e.what.action,
    resource: e.what.resource,
    userAgent: e.where.userAgent,
    requestId: e.where.requestId,
  };
  for (const [field, v] of Object.entries(texts)) {
    if (v === undefined) continue;
    if (v.trim() === "" || placeholders.has(v.trim()))
      out.push(`${field} is a placeholder: "${v}"`);
  }
  const code = e.result.statusCode;
  if (code !== undefined && (code < 100 || code > 599)) out.push(`statusCode ${code}`);
  if (methods && e.what.action !== undefined && !TOKEN.test(e.what.action))
    out.push(`action not an HTTP token: ${JSON.stringify(e.what.action)}`);
  return out;
}

let silent = 0;
const rows: string[] = [];
for (const name of corpusSources(root)) {
  const { options, results } = normalizeSource(name, root);
  const placeholders = new Set(options.placeholders);
  const methods = !["json", "logfmt", "regex"].includes(options.format);
  const kinds = new Map<string, number>();
  const found: string[] = [];
  const lines = results.length;
  let clean = 0;
  let excluded = 0;
  for (const [i, r] of results.entries()) {
    if (r.kind === "excluded") {
      excluded++;
      continue;
    }
    if (r.event.violations.length === 0) clean++;
    for (const v of r.event.violations) kinds.set(kind(v), (kinds.get(kind(v)) ?? 0) + 1);
    for (const s of suspects(r.event, placeholders, methods)) found.push(`line ${i + 1}: ${s}`);
  }
  silent += found.length;
  const share = (100 * clean) / (lines - excluded || 1);
  rows.push(
    `${name.padEnd(15)} ${options.format.padEnd(14)} ${String(lines).padStart(5)} lines  ${share.toFixed(0).padStart(3)}% fully structured${excluded ? `  (${excluded} excluded)` : ""}`,
  );
  for (const [k, n] of [...kinds].sort((a, b) => b[1] - a[1]))
    rows.push(`${"".padEnd(31)}${String(n).padStart(5)}  ${k}`);
  for (const f of found) rows.push(`${"".padEnd(31)}SUSPECT  ${f}`);
}

console.log(`accuracy on ${root}\n`);
console.log(rows.join("\n"));
console.log(
  silent === 0
    ? "\nno silent wrong value: every suspect field is absent or carries its violation"
    : `\n${silent} silent suspect value(s)`,
);
if (silent > 0) process.exitCode = 1;
