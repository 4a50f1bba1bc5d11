// JSON access logs of servers and proxies that write a fixed set of keys: the json parser with
// that server's field map as defaults (a policy's `fields` still override each one).
import type { LineParser } from "./formats.ts";
import { json } from "./json.ts";

function preset(defaults: Readonly<Record<string, string>>): LineParser {
  return { ...json, defaults, actionIsMethod: true };
}

/** Traefik v2/v3 `accessLog.format: json` (headers kept, as `request_<Header>` keys). */
export const traefikJson = preset({
  actor: "ClientUsername",
  action: "RequestMethod",
  resource: "RequestPath",
  time: "StartUTC",
  sourceIp: "ClientHost",
  forwardedFor: "request_X-Forwarded-For",
  userAgent: "request_User-Agent",
  requestId: "request_X-Request-Id",
  statusCode: "DownstreamStatus",
});

/** Caddy 2.7+ `log` (logger http.log.access): headers are arrays, client_ip honours trusted_proxies. */
export const caddyJson = preset({
  actor: "user_id",
  action: "request.method",
  resource: "request.uri",
  time: "ts",
  sourceIp: "request.client_ip",
  userAgent: "request.headers.User-Agent[0]",
  requestId: "request.headers.X-Request-Id[0]",
  statusCode: "status",
});

/** Envoy with a JSON format of Istio's default keys (meshConfig accessLogEncoding: JSON). */
export const envoyJson = preset({
  action: "method",
  resource: "path",
  time: "start_time",
  sourceIp: "downstream_remote_address",
  forwardedFor: "x_forwarded_for",
  userAgent: "user_agent",
  requestId: "request_id",
  statusCode: "response_code",
});
