import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { SidecarConfig } from "../sidecar/config/schema.ts";
import { AuditPolicySpec, type AuditPolicySpecInput, type Policy } from "./api/policy.ts";
import { renderSidecarConfig } from "./config.ts";

const policy = (over: Partial<AuditPolicySpecInput> = {}): Policy => ({
  name: "pay",
  namespace: "ns",
  uid: "u",
  generation: 4,
  creationTimestamp: "2026-01-01T00:00:00Z",
  spec: AuditPolicySpec.parse({
    selector: {},
    source: {
      paths: ["/var/log/app/access*.log", "/srv/x/y.log"],
      format: "json",
      fields: { actor: "user.id" },
    },
    sink: {
      kafka: {
        brokers: ["k:9093"],
        topic: "audit.pay",
        tlsSecret: "tls",
        saslSecret: "sasl",
        saslMechanism: "scram-sha-256",
      },
    },
    required: ["actor"],
    redact: [{ field: "headers.authorization" }],
    signing: { mode: "entry" },
    ...over,
  }),
});

describe("renderSidecarConfig", () => {
  it("renders a file the sidecar's own schema accepts, per container, in the sidecar's view", () => {
    const r = renderSidecarConfig(policy(), ["web", "api"], {
      url: "https://10.0.0.7:443/certify",
      serverName: "auditready-operator.auditready-system.svc",
      caPem: "-----BEGIN CERTIFICATE-----",
    });
    if (!r.ok) throw new Error(r.error.message);
    const config = SidecarConfig.parse(parse(r.yaml));
    expect(config.policy).toEqual({ name: "pay", namespace: "ns", generation: 4 });
    expect(config.sources).toEqual([
      { container: "api", paths: ["/srv/x/api/y.log", "/var/log/app/api/access*.log"] },
      { container: "web", paths: ["/srv/x/web/y.log", "/var/log/app/web/access*.log"] },
    ]);
    expect(config.normalize).toMatchObject({
      format: "json",
      fields: { actor: "user.id" },
      required: ["actor"],
    });
    expect(config.signing).toMatchObject({
      mode: "entry",
      certify: {
        url: "https://10.0.0.7:443/certify",
        serverName: "auditready-operator.auditready-system.svc",
        caFile: "/etc/auditready/certify-ca.crt",
        tokenFile: "/var/run/secrets/auditready.dev/token",
      },
    });
    // No pod is ever told where a policy key is: it holds none.
    expect(config.signing.policyKeyFile).toBeUndefined();
    expect(r.yaml).not.toContain("policy.key");
    expect(config.sink.kafka?.tls).toEqual({ caFile: "/var/run/auditready/kafka-tls/ca.crt" });
    expect(config.sink.kafka?.sasl).toEqual({
      mechanism: "scram-sha-256",
      usernameFile: "/var/run/auditready/kafka-sasl/username",
      passwordFile: "/var/run/auditready/kafka-sasl/password",
    });
    expect(config.stateDir).toBe("/srv/x/.auditready");
  });
});
