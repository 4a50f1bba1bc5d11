// Which epoch keys a stream's `key-cert` messages vouch for. An epoch key is trusted for a
// stream only through a certificate of a trusted policy key for this origin, the checkpoint's
// epoch and this key id, whose subject and container the origin belongs to. Each certificate is
// checked once, in any order and wherever it lies in the stream (the sidecar may publish it
// after records the key sealed, and again at each renewal); every bad one is a finding.
import { certSignatureValid, originMatchesSubject } from "../cert.ts";
import { keyIdOf } from "../keys.ts";
import type { KeyCert, KubernetesIdentity } from "../record.ts";
import type { FindingCode } from "./findings.ts";
import type { CertFact } from "./ingest.ts";

export interface PolicyKey {
  publicKey: Buffer;
  notBefore?: number;
  notAfter?: number;
}

/**
 * How far apart the sidecar's, the operator's and the verifier's clocks may be: a checkpoint
 * signed this long outside its key's certificate window still counts.
 */
export const CLOCK_SKEW_MS = 2 * 60_000;

export type Report = (
  code: FindingCode,
  message: string,
  where: { epoch?: number; position?: string },
) => void;

/** Why a key's checkpoints do not count, when it has no valid certificate for their epoch. */
export type KeyProblem = "KEY_NOT_VALID" | "WRONG_ORIGIN" | "FUTURE_DATED" | "UNCERTIFIED_KEY";

/** What the certificates are judged against besides the policy keys: the verifier's own clock. */
export interface CertClock {
  /** The verifier's clock (ms). */
  asOf: number;
  /** When this verifier's previous run was (its state's clock), if it had one. */
  stateUpdated: number | undefined;
  /** Epoch keys that previous run saw in this stream. */
  knownKeys: ReadonlySet<string>;
}

export class CertBook {
  /** Valid certificates by key id. */
  private readonly valid = new Map<string, KeyCert[]>();
  /** For keys with only invalid certificates: the most telling reason. */
  private readonly invalid = new Map<string, KeyProblem>();

  private readonly origin: string;
  private readonly policyKeys: ReadonlyMap<string, PolicyKey>;
  private readonly report: Report;
  private readonly clock: CertClock;

  constructor(
    origin: string,
    facts: readonly CertFact[],
    policyKeys: ReadonlyMap<string, PolicyKey>,
    clock: CertClock,
    report: Report,
  ) {
    this.origin = origin;
    this.policyKeys = policyKeys;
    this.clock = clock;
    this.report = report;
    const seen = new Set<string>();
    for (const f of facts) {
      if (seen.has(f.cert.sig)) continue;
      seen.add(f.cert.sig);
      const problem = this.check(f);
      if (problem === null) {
        const list = this.valid.get(f.cert.keyId);
        if (list) list.push(f.cert);
        else this.valid.set(f.cert.keyId, [f.cert]);
      } else if (
        problem === "KEY_NOT_VALID" ||
        problem === "WRONG_ORIGIN" ||
        problem === "FUTURE_DATED"
      ) {
        this.invalid.set(f.cert.keyId, problem);
      }
    }
  }

  /** The valid certificates of a key for one epoch of this stream. */
  certsFor(keyId: string, epoch: number): KeyCert[] {
    return (this.valid.get(keyId) ?? []).filter((c) => c.epoch === epoch);
  }

  /** Why a key has no valid certificate for the epoch. */
  problemOf(keyId: string, epoch: number): { code: KeyProblem; why: string } {
    const code = this.invalid.get(keyId);
    if (code) return { code, why: "its certificate is not valid" };
    const others = (this.valid.get(keyId) ?? []).map((c) => c.epoch);
    if (others.length > 0)
      return {
        code: "UNCERTIFIED_KEY",
        why: `it is certified for epoch ${others.join(", ")}, not ${epoch}`,
      };
    return { code: "UNCERTIFIED_KEY", why: "no valid certificate of it is in the stream" };
  }

  /** Checks one certificate; reports and returns its problem, or null when it is valid. */
  private check(f: CertFact): FindingCode | null {
    const cert = f.cert;
    const where = { epoch: f.epoch, position: f.position };
    const fail = (code: FindingCode, message: string): FindingCode => {
      this.report(code, `certificate of epoch key ${cert.keyId}: ${message}`, where);
      return code;
    };
    // One spelling per value: unused base64 bits would let the message change and still verify.
    if (!canonicalBase64(cert.sig) || !canonicalBase64(cert.key))
      return fail("BAD_FORMAT", "its key or signature is not canonical base64");
    const policy = this.policyKeys.get(cert.policyKeyId);
    if (!policy)
      return fail("UNKNOWN_KEY", `signed by ${cert.policyKeyId}, not a trusted policy key`);
    if (!certSignatureValid(cert, policy.publicKey))
      return fail("BAD_SIGNATURE", `does not verify with policy key ${cert.policyKeyId}`);
    if (keyIdOf(Buffer.from(cert.key, "base64")) !== cert.keyId)
      return fail("BAD_FORMAT", "its key id is not its key's");
    if (cert.origin !== this.origin) return fail("WRONG_ORIGIN", `certified for ${cert.origin}`);
    if (!originMatchesSubject(cert.origin, cert.subject, cert.container))
      return fail(
        "WRONG_ORIGIN",
        `the origin is not a log of ${cert.subject.namespace}/${cert.subject.pod} container ${cert.container}`,
      );
    if (cert.epoch !== f.epoch)
      return fail(
        "BAD_FORMAT",
        `for epoch ${cert.epoch}, in a key-cert message of epoch ${f.epoch}`,
      );
    const from = Date.parse(cert.notBefore);
    if (!(from <= Date.parse(cert.notAfter)))
      return fail("BAD_FORMAT", "notBefore is after notAfter");
    if (
      (policy.notBefore !== undefined && from < policy.notBefore) ||
      (policy.notAfter !== undefined && from > policy.notAfter)
    )
      return fail(
        "KEY_NOT_VALID",
        `policy key ${cert.policyKeyId} was not valid at ${cert.notBefore}`,
      );
    return this.checkClock(cert, from, policy, fail);
  }

  /**
   * The certificate's dates against the verifier's own clock, not against what it declares:
   * nothing from the future (so no policy key before its time: the certificate's start is within
   * the key's validity), and no key newly certified by a policy key that was retired before this
   * verifier's previous run (which would have seen it).
   */
  private checkClock(
    cert: KeyCert,
    from: number,
    policy: PolicyKey,
    fail: (code: FindingCode, message: string) => FindingCode,
  ): FindingCode | null {
    const { asOf, stateUpdated, knownKeys } = this.clock;
    const at = new Date(asOf).toISOString();
    if (from > asOf + CLOCK_SKEW_MS)
      return fail(
        "FUTURE_DATED",
        `valid from ${cert.notBefore}, after this verifier's clock (${at})`,
      );
    if (
      policy.notAfter !== undefined &&
      stateUpdated !== undefined &&
      policy.notAfter < stateUpdated &&
      !knownKeys.has(cert.keyId)
    )
      return fail(
        "KEY_NOT_VALID",
        `policy key ${cert.policyKeyId} was retired before this verifier's previous run (${new Date(stateUpdated).toISOString()}), which never saw this key: a back-dated certificate`,
      );
    return null;
  }
}

function canonicalBase64(text: string): boolean {
  return Buffer.from(text, "base64").toString("base64") === text;
}

/** Whether `time` (ms) lies in one of the certificates' windows, give or take the skew. */
export function inWindow(certs: readonly KeyCert[], time: number): boolean {
  return certs.some(
    (c) =>
      time >= Date.parse(c.notBefore) - CLOCK_SKEW_MS &&
      time <= Date.parse(c.notAfter) + CLOCK_SKEW_MS,
  );
}

/** Whether a record's `event.k8s` names the pod and container one of the certificates names. */
export function identityMatches(certs: readonly KeyCert[], k8s: KubernetesIdentity): boolean {
  return certs.some(
    (c) =>
      c.container === k8s.container &&
      c.subject.cluster === k8s.cluster &&
      c.subject.namespace === k8s.namespace &&
      c.subject.pod === k8s.pod &&
      c.subject.podUid === k8s.podUid &&
      c.subject.serviceAccount === k8s.serviceAccount &&
      c.subject.node === k8s.node &&
      c.subject.policy === k8s.policy,
  );
}
