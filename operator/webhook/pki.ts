// A tiny X.509 issuer: the operator's webhook CA and serving certificate in production, and in
// tests the certificates the real kube-apiserver, its clients and the Kafka SASL_SSL listener need.
// Node can sign but cannot build certificates, and the usual libraries pull in a global
// reflect polyfill; a certificate is a few DER structures, so they are built here.
// Keys are ECDSA P-256, signatures ecdsa-with-SHA256: accepted by Go, Java and OpenSSL.
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from "node:crypto";
import { isIP } from "node:net";

export interface KeyPairPem {
  certPem: string;
  /** PKCS#8 PEM ("BEGIN PRIVATE KEY"), the one form every consumer here reads. */
  keyPem: string;
}

export interface Issued extends KeyPairPem {
  key: KeyObject;
}

export interface LeafOptions {
  commonName: string;
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: "server" | "client" | "both";
  validDays?: number;
}

// --- DER encoding -------------------------------------------------------------------------

function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

const seq = (...items: Buffer[]) => der(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => der(0x31, Buffer.concat(items));
const explicit = (n: number, inner: Buffer) => der(0xa0 + n, inner);
const octets = (b: Buffer) => der(0x04, b);
const utf8 = (s: string) => der(0x0c, Buffer.from(s, "utf8"));
const bool = (v: boolean) => der(0x01, Buffer.from([v ? 0xff : 0]));

function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map(Number);
  const [a = 0, b = 0, ...rest] = parts;
  const body: number[] = [a * 40 + b];
  for (const p of rest) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128))
      chunk.unshift(0x80 | (v & 0x7f));
    body.push(...chunk);
  }
  return der(0x06, Buffer.from(body));
}

function integer(bytes: Buffer): Buffer {
  // Positive INTEGER: strip leading zeros, then add one back if the high bit is set.
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let b = bytes.subarray(i);
  if ((b[0] ?? 0) & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return der(0x02, b);
}

function bitString(b: Buffer): Buffer {
  return der(0x03, Buffer.concat([Buffer.from([0]), b]));
}

function time(d: Date): Buffer {
  // RFC 5280: UTCTime through 2049, GeneralizedTime after.
  const iso = d.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return d.getUTCFullYear() < 2050
    ? der(0x17, Buffer.from(`${iso.slice(2)}Z`))
    : der(0x18, Buffer.from(`${iso}Z`));
}

function name(commonName: string, organizations: string[] = []): Buffer {
  const rdns = organizations.map((o) => set(seq(oid("2.5.4.10"), utf8(o))));
  rdns.push(set(seq(oid("2.5.4.3"), utf8(commonName))));
  return seq(...rdns);
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split(".").map(Number));
  if (isIP(ip) !== 6) throw new Error(`pki: not an IP address: ${ip}`);
  const [head = "", tail = ""] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  return Buffer.concat(groups.map((g) => Buffer.from(g.padStart(4, "0"), "hex")));
}

// --- certificates ---------------------------------------------------------------------------

const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"));
const KEY_USAGE = "2.5.29.15";
const BASIC_CONSTRAINTS = "2.5.29.19";
const EXT_KEY_USAGE = "2.5.29.37";
const SUBJECT_ALT_NAME = "2.5.29.17";
const SUBJECT_KEY_ID = "2.5.29.14";
const AUTHORITY_KEY_ID = "2.5.29.35";
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

function keyId(key: KeyObject): Buffer {
  const spki = createPublicKey(key).export({ type: "spki", format: "der" });
  return createHash("sha1").update(spki).digest();
}

interface Draft {
  subject: Buffer;
  issuer: Buffer;
  subjectKey: KeyObject;
  issuerKey: KeyObject;
  validDays: number;
  extensions: Buffer[];
}

function build(d: Draft): string {
  const now = Date.now();
  const serial = Buffer.from(
    createHash("sha256").update(`${now}${Math.random()}`).digest().subarray(0, 16),
  );
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const spki = createPublicKey(d.subjectKey).export({ type: "spki", format: "der" });
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    ECDSA_SHA256,
    d.issuer,
    seq(time(new Date(now - 5 * 60_000)), time(new Date(now + d.validDays * 86_400_000))),
    d.subject,
    spki,
    explicit(3, seq(...d.extensions)),
  );
  const signature = sign("sha256", tbs, d.issuerKey);
  const cert = seq(tbs, ECDSA_SHA256, bitString(signature));
  return toPem("CERTIFICATE", cert);
}

function toPem(label: string, body: Buffer): string {
  const b64 = body.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function newKey(): KeyObject {
  return generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
}

function pkcs8(key: KeyObject): string {
  return key.export({ type: "pkcs8", format: "pem" }).toString();
}

export class CertificateAuthority {
  private readonly subject: Buffer;
  readonly key: KeyObject;
  readonly certPem: string;

  private constructor(subject: Buffer, key: KeyObject, certPem: string) {
    this.subject = subject;
    this.key = key;
    this.certPem = certPem;
  }

  static create(commonName: string, validDays = 30): CertificateAuthority {
    const key = newKey();
    const subject = name(commonName);
    const certPem = build({
      subject,
      issuer: subject,
      subjectKey: key,
      issuerKey: key,
      validDays,
      extensions: [
        extension(BASIC_CONSTRAINTS, true, seq(bool(true))),
        // keyCertSign + cRLSign: bits 5 and 6 -> 0x06 with 1 unused bit.
        extension(KEY_USAGE, true, der(0x03, Buffer.from([1, 0x06]))),
        extension(SUBJECT_KEY_ID, false, octets(keyId(key))),
      ],
    });
    return new CertificateAuthority(subject, key, certPem);
  }

  issue(opts: LeafOptions): Issued {
    const key = newKey();
    const usages = {
      server: [SERVER_AUTH],
      client: [CLIENT_AUTH],
      both: [SERVER_AUTH, CLIENT_AUTH],
    }[opts.usage];
    const sans = [
      ...(opts.dnsNames ?? []).map((n) => der(0x82, Buffer.from(n, "ascii"))),
      ...(opts.ipAddresses ?? []).map((ip) => der(0x87, ipBytes(ip))),
    ];
    const extensions = [
      extension(BASIC_CONSTRAINTS, true, seq()),
      // digitalSignature + keyEncipherment: bits 0 and 2 -> 0xa0 with 5 unused bits.
      extension(KEY_USAGE, true, der(0x03, Buffer.from([5, 0xa0]))),
      extension(EXT_KEY_USAGE, false, seq(...usages.map(oid))),
      extension(SUBJECT_KEY_ID, false, octets(keyId(key))),
      extension(AUTHORITY_KEY_ID, false, seq(der(0x80, keyId(this.key)))),
    ];
    if (sans.length > 0) extensions.push(extension(SUBJECT_ALT_NAME, false, seq(...sans)));
    const certPem = build({
      subject: name(opts.commonName, opts.organizations),
      issuer: this.subject,
      subjectKey: key,
      issuerKey: this.key,
      validDays: opts.validDays ?? 30,
      extensions,
    });
    return { certPem, keyPem: pkcs8(key), key };
  }

  get keyPem(): string {
    return pkcs8(this.key);
  }
}
