// The accuracy classes of issue 14, one by one, through the whole normalizer: placeholders are
// no actor, addresses are addresses, escapes are decoded, statuses and methods are HTTP's, and
// a time without a zone is read as UTC and flagged.
import { describe, expect, it } from "vitest";
import type { AuditEvent, KubernetesIdentity } from "../record.ts";
import { createNormalizer } from "./normalizer.ts";
import { NormalizeOptions } from "./options.ts";

const identity: KubernetesIdentity = {
  cluster: "c",
  namespace: "n",
  pod: "p",
  podUid: "u",
  container: "app",
  node: "node",
  serviceAccount: "sa",
  policy: "pol",
  policyGeneration: 1,
};

function event(options: object, line: string): AuditEvent {
  const r = createNormalizer(NormalizeOptions.parse(options), identity)(Buffer.from(line), {
    file: "/f",
    offset: 0,
  });
  if (r.kind !== "event") throw new Error("excluded");
  return r.event;
}

describe("a placeholder is no value", () => {
  const json = { format: "json", fields: { actor: "user" }, required: ["actor"] } as const;

  it("in json, logfmt and regex, as in combined", () => {
    for (const [user, why] of [
      ["-", 'placeholder "-"'],
      ["", "empty"],
      ["  ", "empty"],
      ["(null)", 'placeholder "(null)"'],
    ]) {
      const e = event(json, JSON.stringify({ user }));
      expect(e.who.actor).toBeUndefined();
      expect(e.violations).toEqual([`missing: actor (${why})`]);
    }
    const logfmt = event(
      { format: "logfmt", fields: { actor: "uname" }, required: ["actor"] },
      "uname= method=GET",
    );
    expect(logfmt.who).toEqual({});
    expect(logfmt.violations).toEqual(["missing: actor (empty)"]);
    const regex = event(
      {
        format: "regex",
        pattern: "^(?<u>\\S+) (?<m>\\S+)$",
        fields: { actor: "u" },
        required: ["actor"],
      },
      "- GET",
    );
    expect(regex.violations).toEqual(['missing: actor (placeholder "-")']);
  });

  it("uses the policy's own list", () => {
    const options = { ...json, placeholders: ["anonymous"] };
    expect(event(options, '{"user":"anonymous"}').violations).toEqual([
      'missing: actor (placeholder "anonymous")',
    ]);
    expect(event(options, '{"user":"-"}').who.actor).toBe("-");
  });

  it("says plainly when the field is not there at all", () => {
    expect(event(json, "{}").violations).toEqual(["missing: actor"]);
  });
});

describe("sourceIp is an address", () => {
  const json = { format: "json", fields: { sourceIp: "ip" } } as const;

  it("without port or brackets", () => {
    expect(event(json, '{"ip":"10.0.0.12:59292"}').where).toEqual({ sourceIp: "10.0.0.12" });
    expect(event(json, '{"ip":"[fd00::1]"}').where).toEqual({ sourceIp: "fd00::1" });
    expect(event(json, '{"ip":"::ffff:192.0.2.1"}').where).toEqual({ sourceIp: "192.0.2.1" });
  });

  it("or a violation", () => {
    const e = event(json, '{"ip":"not-an-ip"}');
    expect(e.where).toEqual({});
    expect(e.violations).toEqual(["invalid: sourceIp"]);
  });

  it("from a chain: the hop the policy trusts, the chain kept beside it", () => {
    const line = '{"ip":"192.168.1.100, 10.42.0.1"}';
    expect(event(json, line)).toMatchObject({
      where: { sourceIp: "10.42.0.1", forwardedFor: ["192.168.1.100", "10.42.0.1"] },
      violations: ["sourceIp-chain-untrusted"],
    });
    const trusted = event({ ...json, trustedProxies: { cidrs: ["10.42.0.0/16"] } }, line);
    expect(trusted.where.sourceIp).toBe("192.168.1.100");
    expect(trusted.violations).toEqual([]);
  });

  it("rejects a trust that is both or neither", () => {
    expect(NormalizeOptions.safeParse({ format: "json", trustedProxies: {} }).success).toBe(false);
    expect(
      NormalizeOptions.safeParse({ format: "json", trustedProxies: { hops: 1, cidrs: ["::1"] } })
        .success,
    ).toBe(false);
    expect(
      NormalizeOptions.safeParse({ format: "json", trustedProxies: { cidrs: ["10.0.0.0/33"] } })
        .success,
    ).toBe(false);
  });
});

describe("HTTP's own rules", () => {
  const combined = { format: "combined", required: ["action"] } as const;
  const line = (request: string, status = "400") =>
    `192.0.2.9 - - [03/Dec/2026:10:00:00 +0000] "${request}" ${status} 0 "-" "-"`;

  it("a garbage request line gives no action and says why", () => {
    for (const request of ["HELP", "", "\\x16\\x03\\x01\\x00\\xA5\\x01", "GET"]) {
      const e = event(combined, line(request));
      expect(e.what).toEqual({});
      expect(e.violations).toEqual(["malformed: request line", "missing: action"]);
    }
  });

  it("a status outside 100-599 is no status, and the outcome unknown", () => {
    const json = { format: "json", fields: { statusCode: "s" } } as const;
    for (const s of ["0", 0, 600, "abc", 99.5]) {
      const e = event(json, JSON.stringify({ s }));
      expect(e.result).toEqual({ outcome: "unknown" });
      expect(e.violations).toEqual(["invalid: statusCode"]);
    }
    expect(event(json, '{"s":"499"}').result).toEqual({ outcome: "failure", statusCode: 499 });
  });

  it("a preset's method must be an HTTP token", () => {
    const e = event({ format: "traefik-json" }, '{"RequestMethod":"GE T","RequestPath":"/"}');
    expect(e.what).toEqual({ resource: "/" });
    expect(e.violations).toEqual(["invalid: action"]);
  });

  it("an access-log time without a zone is read as UTC and flagged", () => {
    const e = event(
      { format: "regex", pattern: "^\\[(?<t>[^\\]]+)\\]", fields: { time: "t" } },
      "[10/Oct/2000:13:55:36]",
    );
    expect(e.when).toEqual({ time: "2000-10-10T13:55:36.000Z" });
    expect(e.violations).toEqual(["time-without-zone"]);
  });
});

describe("escapes", () => {
  it("nginx's \\xHH is decoded in the request and the user agent, and the raw line kept", () => {
    const raw =
      '198.51.100.4 - - [03/Dec/2026:10:00:00 +0000] "GET /caf\\xC3\\xA9?q=\\x22x\\x22 HTTP/1.1" 404 0 "-" "Mozilla \\xFF\\x22"';
    const e = event({ format: "combined" }, raw);
    expect(e.what).toEqual({ action: "GET", resource: '/caf\u00e9?q="x"' });
    expect(e.where.userAgent).toBe('Mozilla \ufffd"');
    expect(e.raw).toBe(raw);
  });
});

describe("JSON written by an nginx template without escape=json", () => {
  it("reads its \\xHH escapes as the bytes they stand for", () => {
    const line =
      '{"remote_addr":"192.0.2.8","request_uri":"/caf\\xC3\\xA9","http_user_agent":"say \\x22hi\\x22 \\xFF"}';
    const e = event(
      { format: "json", fields: { resource: "request_uri", userAgent: "http_user_agent" } },
      line,
    );
    expect(e.what).toEqual({ resource: "/caf\u00e9" });
    expect(e.where.userAgent).toBe('say "hi" \ufffd');
    expect(e.violations).toEqual([]);
    expect(e.raw).toBe(line);
  });

  it("leaves an escaped backslash before x alone, and a broken line unparseable", () => {
    const e = event({ format: "json", fields: { resource: "p" } }, '{"p":"C:\\\\x41"}');
    expect(e.what).toEqual({ resource: "C:\\x41" });
    const bad = event({ format: "json" }, '{"p":"\\x41"');
    expect(bad.violations[0]).toMatch(/^unparseable: not JSON/);
  });
});

describe("Traefik: ClientHost is the X-Forwarded-For header when the request had one", () => {
  const traefik = { format: "traefik-json", trustedProxies: { cidrs: ["10.0.0.0/8"] } } as const;
  const line = (o: object) =>
    JSON.stringify({
      RequestMethod: "GET",
      RequestPath: "/",
      StartUTC: "2024-02-09T11:53:32Z",
      ...o,
    });

  it("the peer is ClientAddr; a ClientHost that differs is a chain resolved by trust", () => {
    // From a real line: a trusted proxy's connection, the client in ClientHost.
    const trusted = event(
      traefik,
      line({ ClientAddr: "10.10.8.105:48376", ClientHost: "175.16.199.10" }),
    );
    expect(trusted.where).toEqual({
      sourceIp: "175.16.199.10",
      forwardedFor: ["175.16.199.10", "10.10.8.105"],
    });
    // A client that sends its own X-Forwarded-For is not a trusted proxy: the peer is the client.
    const forged = event(
      traefik,
      line({ ClientAddr: "198.51.100.7:5000", ClientHost: "192.0.2.1" }),
    );
    expect(forged.where.sourceIp).toBe("198.51.100.7");
    expect(forged.violations).toEqual([]);
  });

  it("no chain when ClientHost is the peer's host, IPv6 too", () => {
    for (const [addr, host] of [
      ["192.0.2.4:1234", "192.0.2.4"],
      ["[::1]:56348", "::1"],
    ]) {
      const e = event(traefik, line({ ClientAddr: addr, ClientHost: host }));
      expect(e.where).toEqual({ sourceIp: host });
    }
  });

  it("fields.names may drop ClientHost and StartUTC: ClientAddr and StartLocal still say", () => {
    const e = event(
      traefik,
      JSON.stringify({
        ClientAddr: "10.10.10.20:23456",
        RequestMethod: "GET",
        RequestPath: "/foo/bar/baz.php",
        StartLocal: "2024-02-02T18:07:08.048870614+01:00",
      }),
    );
    expect(e.where).toEqual({ sourceIp: "10.10.10.20" });
    expect(e.when.time).toBe("2024-02-02T17:07:08.048870614Z");
    expect(e.violations).toEqual([]);
  });

  it("a policy's own path for a field still wins", () => {
    const e = event(
      { format: "traefik-json", fields: { sourceIp: "ClientHost" } },
      line({ ClientAddr: "198.51.100.7:5000", ClientHost: "192.0.2.1" }),
    );
    expect(e.where.sourceIp).toBe("192.0.2.1");
  });
});

describe("Envoy: a gRPC call's outcome is its grpc-status, not the HTTP 200", () => {
  const envoy = { format: "envoy-json" } as const;
  const line = (grpc_status: unknown) =>
    JSON.stringify({
      method: "POST",
      path: "/mock.MockService/Status",
      start_time: "2026-01-12T14:38:10.298Z",
      downstream_remote_address: "10.244.1.8:33238",
      response_code: "200",
      response_flags: "UH",
      grpc_status,
    });

  it("a gRPC error is a failure, by name or by number", () => {
    for (const s of ["Unavailable", "Unknown", "DeadlineExceeded", "14", 2]) {
      expect(event(envoy, line(s)).result).toEqual({ outcome: "failure", statusCode: 200 });
    }
  });

  it("OK, 0, - and no grpc_status leave the outcome to the HTTP status", () => {
    for (const s of ["OK", "0", 0, "-", null, undefined]) {
      expect(event(envoy, line(s)).result).toEqual({ outcome: "success", statusCode: 200 });
    }
  });
});

describe("Caddy: X-Forwarded-For is the chain when Caddy's own trusted_proxies did not use it", () => {
  const line = (client_ip: string, xff: string[]) =>
    JSON.stringify({
      ts: 1751672271.1656768,
      request: {
        remote_ip: "172.69.176.57",
        client_ip,
        method: "GET",
        uri: "/",
        headers: { "X-Forwarded-For": xff },
      },
      status: 200,
    });

  it("behind a CDN: the policy's trusted proxies find the client, the edge is kept in the chain", () => {
    const trusted = event(
      { format: "caddy-json", trustedProxies: { cidrs: ["172.64.0.0/13"] } },
      line("172.69.176.57", ["43.153.204.189"]),
    );
    expect(trusted.where).toEqual({
      sourceIp: "43.153.204.189",
      forwardedFor: ["43.153.204.189", "172.69.176.57"],
    });
    // Without trusted proxies the peer stays the client, the claim beside it.
    const none = event(
      { format: "caddy-json" },
      line("172.69.176.57", ["198.51.100.1", "10.0.0.2"]),
    );
    expect(none.where).toEqual({
      sourceIp: "172.69.176.57",
      forwardedFor: ["198.51.100.1", "10.0.0.2", "172.69.176.57"],
    });
  });

  it("Caddy's own resolution (client_ip differs from remote_ip) stands", () => {
    const e = event({ format: "caddy-json" }, line("203.0.113.9", ["203.0.113.9"]));
    expect(e.where).toEqual({ sourceIp: "203.0.113.9" });
  });
});

describe("HAProxy: option httpslog writes TLS fields after the request", () => {
  it("the line is read, the TLS fields kept apart from the request", () => {
    const e = event(
      { format: "haproxy-http" },
      'Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] https-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {www.example.com} {} "GET /index.html HTTP/1.1" 0/0/0/0/1 www.example.com/TLSv1.3/TLS_AES_256_GCM_SHA384',
    );
    expect(e.what).toEqual({ action: "GET", resource: "/index.html" });
    expect(e.where).toEqual({ sourceIp: "10.0.1.2" });
    expect(e.result).toEqual({ outcome: "success", statusCode: 200 });
    expect(e.violations).toEqual(["time-without-zone"]);
  });
});
