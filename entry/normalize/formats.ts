// Line parsers, one per input format, behind one interface and registered in one table: each
// turns a line into named values (nested for JSON) or says why it could not. None throws.
import { compilePolicyRegex, type LineFormat } from "./options.ts";

import type { Parsed } from "./paths.ts";

export type { Parsed };
export type ParseResult = { ok: true; values: Parsed } | { ok: false; reason: string };

export interface LineParser {
  parse(line: string): ParseResult;
  /** The audit-field mapping used when the policy gives none for a field. */
  defaults: Readonly<Record<string, string>>;
  /** Re-renders values after field redaction, so the raw line shows what was redacted. */
  render?(values: Parsed): string;
}

const json: LineParser = {
  parse(line) {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      return { ok: false, reason: `not JSON: ${(err as Error).message}` };
    }
    if (typeof v !== "object" || v === null || Array.isArray(v))
      return { ok: false, reason: "not a JSON object" };
    return { ok: true, values: v as Parsed };
  },
  defaults: {},
  render: (values) => JSON.stringify(values),
};

// Apache/nginx: %h %l %u %t "%r" %>s %b [ "%{Referer}i" "%{User-agent}i" ]
const QUOTED = '"((?:[^"\\\\]|\\\\.)*)"';
const COMMON = new RegExp(String.raw`^(\S+) (\S+) (\S+) \[([^\]]+)\] ${QUOTED} (\d{3}|-) (\d+|-)`);
// The combined form is the common one followed by the two quoted fields, which nginx leaves
// out now and then: one optional group, so a line takes one match, not two. The group is
// tried once where the common part ends and matches or is left out, exactly as a second
// match at that point would.
export const COMBINED = new RegExp(`${COMMON.source}(?: ${QUOTED} ${QUOTED})?`);

function accessLog(withAgent: boolean): LineParser {
  return {
    parse(line) {
      const m = (withAgent ? COMBINED : COMMON).exec(line);
      if (!m)
        return { ok: false, reason: `not a ${withAgent ? "combined" : "common"} access log line` };
      const [, host, ident, user, time, request = "", status, bytes, referer, agent] = m;
      // Only defined values go in: deleting keys later would slow every later read.
      const values: Parsed = { remote_addr: host };
      const id = dash(ident);
      if (id !== undefined) values.ident = id;
      const remoteUser = dash(user);
      if (remoteUser !== undefined) values.remote_user = remoteUser;
      values.time_local = time;
      const req = unbackslash(request);
      values.request = req;
      if (status !== "-") values.status = Number(status);
      if (bytes !== "-") values.body_bytes_sent = Number(bytes);
      // "METHOD path PROTOCOL"; the path may itself hold escaped quotes and spaces. Cut at the
      // first and last space (no array of words per line): the method is all before the
      // first, the protocol all after the last when there are two or more spaces and it
      // starts with HTTP/, the path what lies between.
      const first = req.indexOf(" ");
      if (first < 0) values.method = req;
      else {
        values.method = req.slice(0, first);
        const last = req.lastIndexOf(" ");
        const withProtocol = last > first && req.startsWith("HTTP/", last + 1);
        values.path = req.slice(first + 1, withProtocol ? last : req.length);
        if (withProtocol) values.protocol = req.slice(last + 1);
      }
      // Both quoted fields or neither (a line without them is kept).
      if (referer !== undefined && agent !== undefined) {
        const r = dash(unbackslash(referer));
        if (r !== undefined) values.http_referer = r;
        const a = dash(unbackslash(agent));
        if (a !== undefined) values.http_user_agent = a;
      }
      return { ok: true, values };
    },
    defaults: {
      actor: "remote_user",
      action: "method",
      resource: "path",
      time: "time_local",
      sourceIp: "remote_addr",
      userAgent: "http_user_agent",
      statusCode: "status",
    },
  };
}

function dash(v: string | undefined): string | undefined {
  return v === "-" || v === "" ? undefined : v;
}

function unbackslash(s: string): string {
  return s.includes("\\") ? s.replace(/\\(.)/g, "$1") : s;
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

// One parser per format for the whole process (they keep no state), so every normalizer of a
// format calls the same parse function: code optimized for one stream's normalizer stays
// valid for the next instead of being thrown away when a second normalizer starts.
const common = accessLog(false);
const combined = accessLog(true);

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
    case "regex":
      if (!pattern) throw new Error("format regex needs a pattern");
      return regex(pattern);
  }
}
