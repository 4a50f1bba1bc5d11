// The test CA's certificates must be what Go (kube-apiserver), Java (Kafka) and Node accept:
// checked here with Node's own X.509 parser, independent of the encoder.
import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CertificateAuthority } from "../../operator/webhook/pki.ts";

describe("CertificateAuthority", () => {
  const ca = CertificateAuthority.create("unit-ca");
  const caCert = new X509Certificate(ca.certPem);

  it("makes a self-signed CA certificate", () => {
    expect(caCert.ca).toBe(true);
    expect(caCert.subject).toBe("CN=unit-ca");
    expect(caCert.verify(caCert.publicKey)).toBe(true);
  });

  it("issues a server certificate with DNS and IP (v4 and v6) names, signed by the CA", () => {
    const leaf = ca.issue({
      commonName: "127.0.0.1",
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1", "::1", "fd00::a:1"],
      usage: "server",
    });
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe(
      "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:FD00:0:0:0:0:0:A:1",
    );
    expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(cert.checkHost("localhost")).toBe("localhost");
    expect(cert.checkHost("example.com")).toBeUndefined();
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    expect(leaf.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(cert.checkPrivateKey(leaf.key)).toBe(true);
  });

  it("puts organizations before the common name, as Kubernetes reads groups from O", () => {
    const admin = ca.issue({
      commonName: "admin",
      organizations: ["system:masters"],
      usage: "client",
    });
    const cert = new X509Certificate(admin.certPem);
    expect(cert.subject).toBe("O=system:masters\nCN=admin");
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
  });

  it("is valid from a few minutes ago for the requested days", () => {
    const cert = new X509Certificate(
      ca.issue({ commonName: "x", usage: "both", validDays: 2 }).certPem,
    );
    const from = Date.parse(cert.validFrom);
    const to = Date.parse(cert.validTo);
    expect(Date.now() - from).toBeGreaterThan(4 * 60_000);
    expect(to - from).toBeGreaterThan(2 * 86_400_000);
    expect(to - from).toBeLessThan(2 * 86_400_000 + 10 * 60_000);
  });

  it("rejects what is not an IP address", () => {
    expect(() =>
      ca.issue({ commonName: "x", ipAddresses: ["localhost"], usage: "server" }),
    ).toThrow(/not an IP address/);
  });
});
