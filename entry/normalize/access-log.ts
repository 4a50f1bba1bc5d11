// Access-log lines in the NCSA family: common, combined, and the variants servers ship with
// (nginx's with extra fields after combined, Apache's vhost_combined, ingress-nginx's default
// upstreaminfo). One prefix regex per variant, one function that fills the shared fields, one
// request-line check. Quoted fields are unescaped only when they hold a backslash.
import { decodeLogEscapes } from "./escapes.ts";
import { HTTP_TOKEN } from "./fields.ts";
import type { LineParser, ParseResult } from "./formats.ts";
import type { Parsed } from "./paths.ts";

// Apache/nginx: %h %l %u %t "%r" %>s %b [ "%{Referer}i" "%{User-agent}i" ]
const QUOTED = '"((?:[^"\\\\]|\\\\.)*)"';
const HEAD = String.raw`(\S+) (\S+) (\S+) \[([^\]]+)\] ${QUOTED} (\d{3}|-) (\d+|-)`;
const COMMON = new RegExp(`^${HEAD}`);
// The combined form is the common one followed by the two quoted fields, which nginx leaves
// out now and then: one optional group, so a line takes one match, not two. The group is
// tried once where the common part ends and matches or is left out, exactly as a second
// match at that point would.
export const COMBINED = new RegExp(`${COMMON.source}(?: ${QUOTED} ${QUOTED})?`);
// nginx's `main` (combined + "$http_x_forwarded_for") and whatever admins add after it.
const NGINX = new RegExp(`^${HEAD} ${QUOTED} ${QUOTED}(?: ${QUOTED})?(?: (.*))?$`);
// Apache's vhost_combined: %v:%p in front of combined.
const APACHE_VHOST = new RegExp(`^(\\S+?)(?::(\\d+))? ${HEAD}(?: ${QUOTED} ${QUOTED})?`);
// ingress-nginx's upstreaminfo: combined, then request length and time, the two upstream names
// in brackets, the upstream address, length, time and status (each a list when the request was
// retried: "10.0.0.1:80, 10.0.0.2:80"), then $req_id.
const INGRESS = new RegExp(
  `^${HEAD} ${QUOTED} ${QUOTED} (\\d+|-) (\\S+) \\[([^\\]]*)\\] \\[([^\\]]*)\\] (.+) (\\S+)$`,
);
const UPSTREAM_ONE = /^(\S+) (\S+) (\S+) (\S+)$/;

export const MALFORMED_REQUEST = "malformed: request line";

const CLF_DEFAULTS = {
  actor: "remote_user",
  action: "method",
  resource: "path",
  time: "time_local",
  sourceIp: "remote_addr",
  userAgent: "http_user_agent",
  statusCode: "status",
} as const;

/** Fills the common fields from the 7 groups at `at`; returns the request line's problem. */
function fillHead(values: Parsed, m: RegExpExecArray, at: number): string | undefined {
  const host = m[at];
  const ident = m[at + 1];
  const user = m[at + 2];
  const time = m[at + 3];
  const request = m[at + 4] ?? "";
  const status = m[at + 5];
  const bytes = m[at + 6];
  values.remote_addr = host;
  const id = dash(ident);
  if (id !== undefined) values.ident = id;
  const remoteUser = dash(user);
  if (remoteUser !== undefined) values.remote_user = remoteUser;
  values.time_local = time;
  const req = decodeLogEscapes(request);
  values.request = req;
  if (status !== "-") values.status = Number(status);
  if (bytes !== "-") values.body_bytes_sent = Number(bytes);
  return splitRequest(req, values);
}

/**
 * "METHOD target PROTOCOL"; the target may itself hold escaped quotes and spaces. Cut at the
 * first and last space (no array of words per line): the method is all before the first, the
 * protocol all after the last when there are two or more spaces and it starts with HTTP/, the
 * target what lies between. A line that is not of that form (a scanner's "HELP", a TLS
 * handshake sent to a plain port, an empty request) gives no method and no path, and says so.
 */
export function splitRequest(req: string, values: Parsed): string | undefined {
  const first = req.indexOf(" ");
  if (first <= 0) return MALFORMED_REQUEST;
  const method = req.slice(0, first);
  const last = req.lastIndexOf(" ");
  const withProtocol = last > first && req.startsWith("HTTP/", last + 1);
  const path = req.slice(first + 1, withProtocol ? last : req.length);
  // "-": Envoy's and Traefik's word for "no request" (a TCP connection, a timeout).
  if (!HTTP_TOKEN.test(method) || method === "-" || path.length === 0) return MALFORMED_REQUEST;
  values.method = method;
  values.path = path;
  if (withProtocol) values.protocol = req.slice(last + 1);
  return undefined;
}

/** Referer and user agent, when the line has them. */
function fillAgent(values: Parsed, referer: string | undefined, agent: string | undefined): void {
  if (referer === undefined || agent === undefined) return;
  const r = dash(decodeLogEscapes(referer));
  if (r !== undefined) values.http_referer = r;
  const a = dash(decodeLogEscapes(agent));
  if (a !== undefined) values.http_user_agent = a;
}

function dash(v: string | undefined): string | undefined {
  return v === "-" || v === "" ? undefined : v;
}

function result(values: Parsed, problem: string | undefined): ParseResult {
  return problem === undefined ? { ok: true, values } : { ok: true, values, problems: [problem] };
}

function ncsa(re: RegExp, name: string): LineParser {
  return {
    parse(line) {
      const m = re.exec(line);
      if (!m) return { ok: false, reason: `not a ${name} access log line` };
      // Only defined values go in: deleting keys later would slow every later read.
      const values: Parsed = {};
      const problem = fillHead(values, m, 1);
      // Both quoted fields or neither (a line without them is kept).
      fillAgent(values, m[8], m[9]);
      return result(values, problem);
    },
    defaults: CLF_DEFAULTS,
    actionIsMethod: true,
  };
}

// One parser per format for the whole process (they keep no state), so every normalizer of a
// format calls the same parse function: code optimized for one stream's normalizer stays
// valid for the next instead of being thrown away when a second normalizer starts.
export const common = ncsa(COMMON, "common");
export const combined = ncsa(COMBINED, "combined");

/** Words after nginx's fields: `key=value` (value maybe quoted) by key, the rest as `extra`. */
function fillTrailing(values: Parsed, rest: string): void {
  const extra: string[] = [];
  for (const m of rest.matchAll(/(?:([A-Za-z_][\w.-]*)=)?("(?:[^"\\]|\\.)*"|\S+)/g)) {
    const [, key, raw = ""] = m;
    const v = raw.startsWith('"') ? decodeLogEscapes(raw.slice(1, -1)) : raw;
    if (key !== undefined && !(key in values)) values[key] = v;
    else extra.push(v);
  }
  if (extra.length > 0) values.extra = extra;
}

export const nginx: LineParser = {
  parse(line) {
    const m = NGINX.exec(line);
    if (!m) return { ok: false, reason: "not an nginx access log line (combined and more)" };
    const values: Parsed = {};
    const problem = fillHead(values, m, 1);
    fillAgent(values, m[8], m[9]);
    const xff = dash(m[10] === undefined ? undefined : decodeLogEscapes(m[10]));
    if (xff !== undefined) values.http_x_forwarded_for = xff;
    if (m[11] !== undefined && m[11] !== "") fillTrailing(values, m[11]);
    return result(values, problem);
  },
  defaults: { ...CLF_DEFAULTS, forwardedFor: "http_x_forwarded_for" },
  actionIsMethod: true,
};

export const apacheVhost: LineParser = {
  parse(line) {
    const m = APACHE_VHOST.exec(line);
    if (!m) return { ok: false, reason: "not an Apache vhost_combined access log line" };
    const values: Parsed = { server_name: m[1] };
    if (m[2] !== undefined) values.server_port = Number(m[2]);
    const problem = fillHead(values, m, 3);
    fillAgent(values, m[10], m[11]);
    return result(values, problem);
  },
  defaults: CLF_DEFAULTS,
  actionIsMethod: true,
};

export const ingressNginx: LineParser = {
  parse(line) {
    const m = INGRESS.exec(line);
    if (!m) return { ok: false, reason: "not an ingress-nginx upstreaminfo access log line" };
    const values: Parsed = {};
    const problem = fillHead(values, m, 1);
    fillAgent(values, m[8], m[9]);
    if (m[10] !== "-") values.request_length = Number(m[10]);
    values.request_time = m[11];
    values.proxy_upstream_name = m[12];
    values.proxy_alternative_upstream_name = m[13];
    const upstream = m[14] as string;
    const one = UPSTREAM_ONE.exec(upstream);
    if (one) {
      values.upstream_addr = one[1];
      values.upstream_response_length = one[2];
      values.upstream_response_time = one[3];
      values.upstream_status = one[4];
    } else values.upstream = upstream; // retried: lists that cannot be told apart by position
    values.req_id = m[15];
    return result(values, problem);
  },
  defaults: { ...CLF_DEFAULTS, requestId: "req_id" },
  actionIsMethod: true,
};
