// Line parsers, one per input format, behind one interface and registered in one table: each
// turns a line into named values (nested for JSON) or says why it could not. None throws.
import { apacheVhost, combined, common, ingressNginx, nginx } from "./access-log.ts";
import { json } from "./json.ts";
import { caddyJson, envoyJson, traefikJson } from "./json-presets.ts";
import { compilePolicyRegex, type LineFormat } from "./options.ts";
import type { Parsed } from "./paths.ts";
import { envoyText, haproxyHttp } from "./proxy-logs.ts";

export type { Parsed };
export type ParseResult =
  | { ok: true; values: Parsed; problems?: string[] }
  | { ok: false; reason: string };

export interface LineParser {
  parse(line: string): ParseResult;
  /** The audit-field mapping used when the policy gives none for a field. */
  defaults: Readonly<Record<string, string>>;
  /**
   * For a field whose value depends on more than one key of the line: how to read it when the
   * policy gives no path for it (its `defaults` entry still names the key exclude rules use).
   */
  readers?: Readonly<Partial<Record<string, (values: Parsed) => unknown>>>;
  /** The default action is an HTTP method, so it must be an HTTP token. */
  actionIsMethod?: true;
  /** Re-renders values after field redaction, so the raw line shows what was redacted. */
  render?(values: Parsed): string;
}

function dropUndefined(v: Parsed): Parsed {
  for (const k of Object.keys(v)) if (v[k] === undefined) delete v[k];
  return v;
}

const logfmt: LineParser = {
  parse(line) {
    const values: Parsed = {};
    let i = 0;
    const n = line.length;
    while (i < n) {
      while (i < n && line[i] === " ") i++;
      if (i >= n) break;
      const keyStart = i;
      while (i < n && line[i] !== "=" && line[i] !== " ") i++;
      const key = line.slice(keyStart, i);
      if (!key || key.includes('"'))
        return { ok: false, reason: `bad key at column ${keyStart + 1}` };
      if (line[i] !== "=") {
        values[key] = true;
        continue;
      }
      i++;
      if (line[i] === '"') {
        let value = "";
        i++;
        while (i < n && line[i] !== '"') {
          if (line[i] === "\\" && i + 1 < n) i++;
          value += line[i];
          i++;
        }
        if (i >= n) return { ok: false, reason: `unterminated quote for ${key}` };
        i++;
        values[key] = value;
      } else {
        const start = i;
        while (i < n && line[i] !== " ") i++;
        values[key] = line.slice(start, i);
      }
    }
    if (Object.keys(values).length === 0) return { ok: false, reason: "no key=value pairs" };
    return { ok: true, values };
  },
  defaults: {},
  render: (values) =>
    Object.entries(values)
      .map(([k, v]) =>
        v === true
          ? k
          : `${k}=${/[\s"=]/.test(String(v)) || v === "" ? JSON.stringify(String(v)) : String(v)}`,
      )
      .join(" "),
};

function regex(pattern: string): LineParser {
  const re = compilePolicyRegex(pattern);
  return {
    parse(line) {
      const m = re.exec(line);
      if (!m?.groups) return { ok: false, reason: "line does not match the policy's pattern" };
      return { ok: true, values: dropUndefined({ ...m.groups }) };
    },
    defaults: {},
  };
}

export function lineParser(format: LineFormat, pattern?: string): LineParser {
  switch (format) {
    case "json":
      return json;
    case "common":
      return common;
    case "combined":
      return combined;
    case "logfmt":
      return logfmt;
    case "nginx":
      return nginx;
    case "apache-vhost":
      return apacheVhost;
    case "ingress-nginx":
      return ingressNginx;
    case "traefik-json":
      return traefikJson;
    case "caddy-json":
      return caddyJson;
    case "envoy-json":
      return envoyJson;
    case "envoy-text":
      return envoyText;
    case "haproxy-http":
      return haproxyHttp;
    case "regex":
      if (!pattern) throw new Error("format regex needs a pattern");
      return regex(pattern);
  }
}
