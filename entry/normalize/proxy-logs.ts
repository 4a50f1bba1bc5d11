// Text access logs of proxies whose lines are not NCSA: Envoy's default format and HAProxy's
// `option httplog`. Each names its fields as the proxy's documentation does, so a policy can
// override the default mapping with the names an admin reads in that documentation.
import { MALFORMED_REQUEST, splitRequest } from "./access-log.ts";
import { decodeHashEscapes } from "./escapes.ts";
import type { LineParser } from "./formats.ts";
import type { Parsed } from "./paths.ts";

const Q = '"([^"]*)"';
// [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
// %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%
// "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%"
// "%UPSTREAM_HOST%", and anything an admin appended after it.
const ENVOY = new RegExp(
  `^\\[([^\\]]+)\\] ${Q} (\\S+) (\\S+) (\\S+) (\\S+) (\\S+) (\\S+) ${Q} ${Q} ${Q} ${Q} ${Q}(?: (.*))?$`,
);
const ENVOY_NAMES = [
  "response_code",
  "response_flags",
  "bytes_received",
  "bytes_sent",
  "duration",
  "upstream_service_time",
  "x_forwarded_for",
  "user_agent",
  "request_id",
  "authority",
  "upstream_host",
] as const;

export const envoyText: LineParser = {
  parse(line) {
    const m = ENVOY.exec(line);
    if (!m) return { ok: false, reason: "not an Envoy default-format access log line" };
    // Envoy writes "-" for every value it does not have; those are left out.
    const values: Parsed = { start_time: m[1], request: m[2] };
    for (let i = 0; i < ENVOY_NAMES.length; i++) {
      const v = m[i + 3] as string;
      if (v !== "-" && v !== "") values[ENVOY_NAMES[i] as string] = v;
    }
    if (m[14] !== undefined && m[14] !== "") values.extra = m[14];
    const problem = splitRequest(m[2] as string, values);
    return problem === undefined ? { ok: true, values } : { ok: true, values, problems: [problem] };
  },
  defaults: {
    action: "method",
    resource: "path",
    time: "start_time",
    sourceIp: "x_forwarded_for",
    userAgent: "user_agent",
    requestId: "request_id",
    statusCode: "response_code",
  },
  actionIsMethod: true,
};

// [syslog header] haproxy[pid]: client_ip:port [accept_date] frontend backend/server
// Tq/Tw/Tc/Tr/Tt status bytes req_cookie res_cookie termination_state
// actconn/feconn/beconn/srv_conn/retries srv_queue/backend_queue [{req headers}] [{res headers}]
// "request", and for `option httpslog` (HAProxy 2.5+) the TLS fields after it, which hold no quote
const HAPROXY = new RegExp(
  [
    String.raw`^(?:[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d \S+ )?(?:(\S+?)\[\d+\]: )?`,
    String.raw`(\S+) \[([^\]]+)\] (\S+) (\S+) (\S+) (-?\d+) ([+]?\d+) (\S+) (\S+) (\S+) (\S+) (\S+)`,
    String.raw`(?: \{([^}]*)\})?(?: \{([^}]*)\})? "(.*)"(?: ([^"]*))?$`,
  ].join(""),
);

export const haproxyHttp: LineParser = {
  parse(line) {
    const m = HAPROXY.exec(line);
    if (!m) return { ok: false, reason: "not an HAProxy httplog line" };
    const client = m[2] as string;
    const colon = client.lastIndexOf(":");
    const values: Parsed = {
      client_ip: colon > 0 ? client.slice(0, colon) : client,
      accept_date: m[3],
      frontend_name: m[4],
    };
    if (colon > 0) values.client_port = client.slice(colon + 1);
    const [backend = "", server = ""] = (m[5] as string).split("/");
    values.backend_name = backend;
    values.server_name = server;
    values.timers = m[6];
    values.status_code = Number(m[7]);
    values.bytes_read = Number(m[8]);
    if (m[9] !== "-") values.captured_request_cookie = m[9];
    if (m[10] !== "-") values.captured_response_cookie = m[10];
    values.termination_state = m[11];
    // Captured headers, in the order the `capture request header` lines give them.
    if (m[14] !== undefined) values.captured_request_headers = decodeHashEscapes(m[14]).split("|");
    if (m[15] !== undefined) values.captured_response_headers = decodeHashEscapes(m[15]).split("|");
    const request = decodeHashEscapes(m[16] as string);
    values.request = request;
    // httpslog: %[fc_err]/%[ssl_fc_err,hex]/%[ssl_c_err]/%[ssl_c_ca_err]/%[ssl_fc_is_resumed]
    // %[ssl_fc_sni]/%sslv/%sslc, kept as written.
    if (m[17] !== undefined && m[17] !== "") values.tls = m[17];
    // <BADREQ> and <NOSRV>-style markers are HAProxy's words for a request it could not read.
    const problem = request.startsWith("<") ? MALFORMED_REQUEST : splitRequest(request, values);
    return problem === undefined ? { ok: true, values } : { ok: true, values, problems: [problem] };
  },
  defaults: {
    action: "method",
    resource: "path",
    time: "accept_date",
    sourceIp: "client_ip",
    statusCode: "status_code",
  },
  actionIsMethod: true,
};
