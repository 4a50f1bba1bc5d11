// JSON access logs of servers and proxies that write a fixed set of keys: the json parser with
// that server's field map as defaults (a policy's `fields` still override each one).
import type { LineParser } from "./formats.ts";
import { json } from "./json.ts";
import type { Parsed } from "./paths.ts";

function preset(
  defaults: Readonly<Record<string, string>>,
  readers?: LineParser["readers"],
): LineParser {
  return readers === undefined
    ? { ...json, defaults, actionIsMethod: true }
    : { ...json, defaults, readers, actionIsMethod: true };
}

/** The host part of Traefik's ClientAddr (`10.0.0.1:5000`, `[::1]:5000`), as ClientHost has it. */
function addrHost(addr: string): string {
  if (addr.startsWith("[")) {
    const end = addr.indexOf("]");
    return end > 0 ? addr.slice(1, end) : addr;
  }
  const colon = addr.lastIndexOf(":");
  return colon > 0 && addr.indexOf(":") === colon ? addr.slice(0, colon) : addr;
}

/**
 * Traefik writes ClientHost as the request's X-Forwarded-For header when it has one (after its
 * forwardedHeaders trust), else the host of ClientAddr, the connection's peer. So the peer is
 * ClientAddr, and ClientHost is a forwarded chain only when it differs from the peer's host: the
 * chain is then resolved with the policy's trusted proxies like any other, not taken as is.
 */
function traefikForwarded(v: Parsed): unknown {
  const host = v.ClientHost;
  if (typeof host !== "string") return v["request_X-Forwarded-For"];
  const addr = v.ClientAddr;
  return typeof addr === "string" && addrHost(addr) === host ? undefined : host;
}

/**
 * Traefik v2/v3 `accessLog.format: json` (headers kept, as `request_<Header>` keys). The time is
 * StartUTC, or StartLocal (RFC 3339 with its offset) when `fields.names` dropped StartUTC.
 */
export const traefikJson = preset(
  {
    actor: "ClientUsername",
    action: "RequestMethod",
    resource: "RequestPath",
    time: "StartUTC",
    sourceIp: "ClientAddr",
    forwardedFor: "ClientHost",
    userAgent: "request_User-Agent",
    requestId: "request_X-Request-Id",
    statusCode: "DownstreamStatus",
  },
  {
    time: (v) => v.StartUTC ?? v.StartLocal,
    forwardedFor: traefikForwarded,
  },
);

/**
 * Caddy's client_ip is remote_ip unless its trusted_proxies took the client from X-Forwarded-For.
 * When it did not, the logged X-Forwarded-For header (an array of header lines) is the chain,
 * resolved by the policy's trusted proxies: behind a CDN without trusted_proxies, the client is
 * then neither lost nor the CDN's edge without a word. When Caddy did, its client_ip stands.
 */
function caddyForwarded(v: Parsed): unknown {
  const r = v.request;
  if (typeof r !== "object" || r === null) return undefined;
  const { client_ip, remote_ip, headers } = r as Parsed;
  if (client_ip !== undefined && remote_ip !== undefined && client_ip !== remote_ip)
    return undefined;
  const xff = (headers as Parsed | undefined)?.["X-Forwarded-For"];
  if (!Array.isArray(xff) || xff.length === 0) return undefined;
  return xff.length === 1 ? xff[0] : xff.join(", ");
}

/** Caddy 2.7+ `log` (logger http.log.access): headers are arrays, client_ip honours trusted_proxies. */
export const caddyJson = preset(
  {
    actor: "user_id",
    action: "request.method",
    resource: "request.uri",
    time: "ts",
    sourceIp: "request.client_ip",
    forwardedFor: "request.headers.X-Forwarded-For",
    userAgent: "request.headers.User-Agent[0]",
    requestId: "request.headers.X-Request-Id[0]",
    statusCode: "status",
  },
  { forwardedFor: caddyForwarded },
);

/**
 * A gRPC call that failed is answered with HTTP 200 and its error in the grpc-status trailer:
 * Envoy's %GRPC_STATUS% (a name, or a number with GRPC_STATUS_NUMBER) is then the outcome, not
 * the HTTP status. Only a failure is said here; OK, `-` and absent leave it to the status.
 */
function grpcOutcome(v: Parsed): unknown {
  const s = v.grpc_status;
  if (s === undefined || s === null || s === "" || s === "-") return undefined;
  return s === "OK" || s === "0" || s === 0 ? undefined : "failure";
}

/** Envoy with a JSON format of Istio's default keys (meshConfig accessLogEncoding: JSON). */
export const envoyJson = preset(
  {
    action: "method",
    resource: "path",
    time: "start_time",
    sourceIp: "downstream_remote_address",
    forwardedFor: "x_forwarded_for",
    userAgent: "user_agent",
    requestId: "request_id",
    statusCode: "response_code",
    outcome: "grpc_status",
  },
  { outcome: grpcOutcome },
);
