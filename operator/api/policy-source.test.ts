// The AuditPolicy's source options that come from the normalizer's schema hold the same rules
// in the operator's validation as in the sidecar's, not only as a CEL rule in the CRD.
import { describe, expect, it } from "vitest";
import { AuditPolicySpec } from "./policy.ts";

describe("a policy's trusted proxies", () => {
  it("are exactly one of cidrs or hops in the AuditPolicy too, not only in the sidecar", () => {
    const spec = (trustedProxies: object) => ({
      selector: {},
      source: { paths: ["/var/log/app/access.log"], format: "nginx", trustedProxies },
      sink: { kafka: { brokers: ["kafka:9093"], topic: "audit.web" } },
    });
    const issues = (t: object) =>
      (AuditPolicySpec.safeParse(spec(t)).error?.issues ?? []).map((i) => i.path.join("."));
    expect(issues({ hops: 1, cidrs: ["10.0.0.0/8"] })).toContain("source.trustedProxies");
    expect(issues({})).toContain("source.trustedProxies");
    expect(issues({ hops: 1 })).not.toContain("source.trustedProxies");
  });
});
