import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { issue, needsRenewal } from "./certs.ts";

const opts = {
  namespace: "ns",
  secretName: "s",
  dnsNames: ["auditready-operator.ns.svc"],
  ipAddresses: [],
};

describe("webhook serving certificates", () => {
  it("issues a pair for the service names, signed by the CA in the bundle", () => {
    const c = issue(opts);
    const leaf = new X509Certificate(c.certPem);
    expect(leaf.subjectAltName).toBe("DNS:auditready-operator.ns.svc");
    expect(leaf.verify(new X509Certificate(c.caBundlePem).publicKey)).toBe(true);
    expect(needsRenewal(c, opts)).toBe(false);
  });

  it("renews within 30 days of expiry and when the names change", () => {
    const c = issue({ ...opts, validDays: 20 });
    expect(needsRenewal(c, opts)).toBe(true);
    const long = issue(opts);
    expect(needsRenewal(long, { ...opts, dnsNames: ["other.ns.svc"] })).toBe(true);
    expect(needsRenewal(long, opts, Date.now() + 340 * 86_400_000)).toBe(true);
  });

  it("keeps the previous CA in the bundle on renewal, so both are trusted during the switch", () => {
    const old = issue(opts);
    const next = issue(opts, old.caBundlePem);
    const certs = next.caBundlePem.match(/-----BEGIN CERTIFICATE-----/g) ?? [];
    expect(certs).toHaveLength(2);
    expect(next.caBundlePem.endsWith(old.caBundlePem)).toBe(true);
  });
});
