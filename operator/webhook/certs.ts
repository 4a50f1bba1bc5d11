// The webhook's serving certificate, kept in a Secret in the operator's namespace: a CA
// (ca.crt, ca.key) and a serving pair (tls.crt, tls.key) for the configured names. Every
// replica reads it (the first creates it); the leader renews it 30 days before expiry. On
// renewal ca.crt holds the new CA followed by the old one, so a caBundle written from it
// trusts both while replicas pick up the new pair.
import { X509Certificate } from "node:crypto";
import type { CoreV1Api, V1Secret } from "@kubernetes/client-node";
import { conflict, notFound } from "../controller/objects.ts";
import { CertificateAuthority } from "./pki.ts";

export interface ServingCert {
  caBundlePem: string;
  certPem: string;
  keyPem: string;
}

export interface CertOptions {
  namespace: string;
  secretName: string;
  dnsNames: string[];
  ipAddresses: string[];
  validDays?: number;
}

const RENEW_BEFORE_MS = 30 * 86_400_000;

function fromSecret(s: V1Secret): ServingCert | undefined {
  const get = (k: string) => (s.data?.[k] ? Buffer.from(s.data[k], "base64").toString() : "");
  const c = { caBundlePem: get("ca.crt"), certPem: get("tls.crt"), keyPem: get("tls.key") };
  return c.caBundlePem && c.certPem && c.keyPem ? c : undefined;
}

/** Whether the pair is still good for `names` for at least the renewal margin. */
export function needsRenewal(cert: ServingCert, opts: CertOptions, now = Date.now()): boolean {
  const x = new X509Certificate(cert.certPem);
  if (Date.parse(x.validTo) - now < RENEW_BEFORE_MS) return true;
  const sans = x.subjectAltName ?? "";
  return (
    opts.dnsNames.some((n) => !sans.includes(`DNS:${n}`)) ||
    opts.ipAddresses.some((ip) => !sans.includes(`IP Address:${ip}`))
  );
}

export function issue(opts: CertOptions, previousCaPem?: string): ServingCert {
  const ca = CertificateAuthority.create("auditready-webhook-ca", 3_650);
  const leaf = ca.issue({
    commonName: opts.dnsNames[0] ?? opts.ipAddresses[0] ?? "auditready-webhook",
    dnsNames: opts.dnsNames,
    ipAddresses: opts.ipAddresses,
    usage: "server",
    validDays: opts.validDays ?? 365,
  });
  const firstOld = previousCaPem?.match(
    /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/,
  )?.[0];
  return { caBundlePem: ca.certPem + (firstOld ?? ""), certPem: leaf.certPem, keyPem: leaf.keyPem };
}

function secretBody(opts: CertOptions, c: ServingCert, resourceVersion?: string): V1Secret {
  return {
    metadata: {
      name: opts.secretName,
      namespace: opts.namespace,
      ...(resourceVersion && { resourceVersion }),
    },
    type: "Opaque",
    data: {
      "ca.crt": Buffer.from(c.caBundlePem).toString("base64"),
      "tls.crt": Buffer.from(c.certPem).toString("base64"),
      "tls.key": Buffer.from(c.keyPem).toString("base64"),
    },
  };
}

/** Reads the pair, creating it when missing and (if allowed) renewing it when due. */
export async function ensureServingCert(
  core: CoreV1Api,
  opts: CertOptions,
  mayRenew: boolean,
): Promise<{ cert: ServingCert; changed: boolean }> {
  let secret: V1Secret | undefined;
  try {
    secret = await core.readNamespacedSecret({ namespace: opts.namespace, name: opts.secretName });
  } catch (err) {
    if (!notFound(err)) throw err;
  }
  const current = secret ? fromSecret(secret) : undefined;
  if (!secret) {
    const fresh = issue(opts);
    try {
      await core.createNamespacedSecret({
        namespace: opts.namespace,
        body: secretBody(opts, fresh),
      });
      return { cert: fresh, changed: true };
    } catch (err) {
      // Another replica created it first: use theirs.
      if (!conflict(err)) throw err;
      return ensureServingCert(core, opts, mayRenew);
    }
  }
  if (current && !(mayRenew && needsRenewal(current, opts)))
    return { cert: current, changed: false };
  if (!mayRenew && current) return { cert: current, changed: false };
  const renewed = issue(opts, current?.caBundlePem);
  await core.replaceNamespacedSecret({
    namespace: opts.namespace,
    name: opts.secretName,
    body: secretBody(opts, renewed, secret.metadata?.resourceVersion),
  });
  return { cert: renewed, changed: true };
}
