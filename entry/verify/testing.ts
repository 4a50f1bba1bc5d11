// Builds real streams with the sealer, for tests of the verifier (unit, integration and the
// tamper catalog): the records are what the sidecar's own code emits, never hand-made JSON, and
// each epoch key is certified by a test operator that alone holds the policy key.
import { DEFAULT_LIMITS } from "../canonical.ts";
import { certifyKey, keyCertMessage } from "../cert.ts";
import { generateSigningKey, type SigningKey } from "../keys.ts";
import type { AuditEvent, KeyCert, KubernetesIdentity } from "../record.ts";
import { type Emitted, type SealPolicy, StreamSealer, type StreamState } from "../seal.ts";
import type { FindingCode } from "./findings.ts";
import { Ingest, type InputMessage, type StreamFacts } from "./ingest.ts";
import type { TrustedKey } from "./trust.ts";
import { Verifier, type VerifyOptions, type VerifyReport } from "./verifier.ts";

export const T0 = Date.parse("2026-11-23T10:00:00.000Z");
export const POD_UID = "00000000-0000-0000-0000-000000000001";

export class Clock {
  t: number;
  constructor(t = T0) {
    this.t = t;
  }
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export function sampleEvent(i: number, file = "/var/log/app/access.log"): AuditEvent {
  const line = `10.0.0.${i % 250} - alice [23/Nov/2026:10:00:00 +0000] "GET /api/items/${i} HTTP/1.1" 200 512`;
  return {
    who: { actor: "alice" },
    what: { action: "GET", resource: `/api/items/${i}` },
    when: { time: new Date(T0 + i).toISOString() },
    where: { sourceIp: `10.0.0.${i % 250}` },
    result: { outcome: "success", statusCode: 200 },
    k8s: {
      cluster: "test",
      namespace: "payments",
      pod: "api-0",
      podUid: POD_UID,
      container: "api",
      node: "node-1",
      serviceAccount: "api",
      policy: "payments-api",
      policyGeneration: 1,
    },
    source: {
      file,
      offset: i * 100,
      length: line.length,
      lineHash: i.toString(16).padStart(64, "0"),
    },
    raw: line,
    violations: [],
    redactions: [],
  };
}

export const DEFAULT_SEAL: SealPolicy = { entries: 10, millis: 1_000, heartbeatMs: 30_000 };

/** How long the test operator's certificates are valid; the sidecar renews before the end. */
export const CERT_TTL_MS = 60 * 60_000;

/** The pod and container an origin `<cluster>/<ns>/<pod>/<container>/<file>` names. */
export function identityOf(origin: string, podUid = POD_UID): KubernetesIdentity {
  const [cluster = "", namespace = "", pod = "", container = ""] = origin.split("/");
  return {
    ...sampleEvent(0).k8s,
    cluster,
    namespace,
    pod,
    podUid,
    container,
  };
}

/**
 * The operator's part, for tests: it holds the policy key and certifies an epoch key for one
 * stream of one pod, as operator/ does after checking the pod's token.
 */
export class TestOperator {
  readonly policyKey: SigningKey;
  constructor(policyKey: SigningKey = generateSigningKey()) {
    this.policyKey = policyKey;
  }

  certify(
    key: SigningKey,
    origin: string,
    epoch: number,
    identity: KubernetesIdentity,
    notBefore: number,
    ttlMs = CERT_TTL_MS,
  ): KeyCert {
    const { cluster, namespace, pod, podUid, serviceAccount, node, policy, container } = identity;
    return certifyKey(this.policyKey, {
      key: key.publicKey.toString("base64"),
      keyId: key.keyId,
      origin,
      epoch,
      container,
      subject: { cluster, namespace, pod, podUid, serviceAccount, node, policy },
      notBefore: new Date(notBefore).toISOString(),
      notAfter: new Date(notBefore + ttlMs).toISOString(),
    });
  }
}

/** The `key-cert` message of a certificate, as the sidecar publishes it. */
export function certMessage(cert: KeyCert): Emitted {
  const { key, value } = keyCertMessage(cert);
  return { kind: "key-cert", type: "key-cert", key, value, seq: cert.epoch };
}

/**
 * When the builder publishes each epoch key's certificate: at once (the operator answered
 * before the first record), held until `publishCerts()` (the operator was away while records
 * were sealed and spooled), or never (a key nobody certified).
 */
export type CertTiming = "at-once" | "later" | "never";

export class StreamBuilder {
  readonly origin: string;
  readonly clock: Clock;
  readonly operator: TestOperator;
  readonly messages: Emitted[] = [];
  /** Every epoch key the sidecar made, in order: tests play an attacker who stole one. */
  readonly epochKeys: SigningKey[] = [];
  /** Every certificate the operator gave, in order. */
  readonly certs: KeyCert[] = [];
  readonly identity: KubernetesIdentity;
  sealer: StreamSealer;
  private readonly seal: SealPolicy;
  private readonly event: (i: number) => AuditEvent;
  private readonly timing: CertTiming;
  private readonly held: KeyCert[] = [];
  private next = 0;

  constructor(
    opts: {
      origin?: string;
      seal?: Partial<SealPolicy>;
      policyKey?: SigningKey;
      clock?: Clock;
      saved?: StreamState | null;
      event?: (i: number) => AuditEvent;
      certs?: CertTiming;
      podUid?: string;
    } = {},
  ) {
    this.origin = opts.origin ?? "test/payments/api-0/api/var/log/app/access.log";
    this.clock = opts.clock ?? new Clock();
    this.operator = new TestOperator(opts.policyKey);
    this.seal = { ...DEFAULT_SEAL, ...opts.seal };
    this.identity = identityOf(this.origin, opts.podUid);
    this.event = opts.event ?? ((i) => ({ ...sampleEvent(i), k8s: this.identity }));
    this.timing = opts.certs ?? "at-once";
    this.sealer = this.open(opts.saved ?? null);
  }

  get policyKey(): SigningKey {
    return this.operator.policyKey;
  }

  /** The key the sealer signs with now. */
  get currentKey(): SigningKey {
    return this.epochKeys[this.epochKeys.length - 1] as SigningKey;
  }

  private newKey(): SigningKey {
    const k = generateSigningKey();
    this.epochKeys.push(k);
    return k;
  }

  /** Opens an epoch with a fresh key: epoch-start and its checkpoint, then the certificate. */
  private open(saved: StreamState | null): StreamSealer {
    const key = this.newKey();
    const { sealer, out } = StreamSealer.open(
      { origin: this.origin, key, seal: this.seal, now: this.clock.now },
      saved,
    );
    this.messages.push(...out);
    this.certifyCurrent(sealer.epoch);
    return sealer;
  }

  private certifyCurrent(epoch: number): void {
    const cert = this.operator.certify(
      this.currentKey,
      this.origin,
      epoch,
      this.identity,
      this.clock.now(),
    );
    this.certs.push(cert);
    if (this.timing === "at-once") this.messages.push(certMessage(cert));
    else if (this.timing === "later") this.held.push(cert);
  }

  /** Publishes the certificates held back (the operator is reachable again). */
  publishCerts(): this {
    for (const cert of this.held.splice(0)) this.messages.push(certMessage(cert));
    return this;
  }

  /** A renewed certificate for the current key: the same key, a later window. */
  renewCert(): this {
    const last = this.certs[this.certs.length - 1] as KeyCert;
    const cert = this.operator.certify(
      this.currentKey,
      this.origin,
      last.epoch,
      this.identity,
      this.clock.now(),
    );
    this.certs.push(cert);
    this.messages.push(certMessage(cert));
    return this;
  }

  /** Rotates to a fresh epoch key: key-rotate and its checkpoint, then the new certificate. */
  rotateKey(): this {
    this.messages.push(...this.sealer.rotateKey(this.newKey()));
    this.certifyCurrent(this.sealer.epoch);
    return this;
  }

  logs(n: number): this {
    for (let i = 0; i < n; i++) {
      this.clock.advance(1);
      this.messages.push(...this.sealer.appendLog(this.event(this.next++)));
    }
    return this;
  }

  push(out: Emitted[]): this {
    this.messages.push(...out);
    return this;
  }

  /** Starts the next epoch from `state` (a clean or crashed restart), continuing the same list. */
  restart(state: StreamState | null): this {
    this.sealer = this.open(state);
    return this;
  }

  /** Re-reads source lines from index `from` (after a crash, the source offset was older). */
  rewind(from: number): this {
    this.next = from;
    return this;
  }

  trustedKeys(): TrustedKey[] {
    return [{ publicKey: this.policyKey.publicKey.toString("base64") }];
  }
}

export function asInput(messages: readonly Emitted[], key?: string): InputMessage[] {
  return messages.map((m, i) => ({ key: key ?? m.key, value: m.value, position: `#${i}` }));
}

/** Verifies messages as `auditready verify` would, trusting `keys` (and `state`, if given). */
export function verifyMessages(
  msgs: readonly Emitted[],
  keys: TrustedKey[],
  opts: Omit<VerifyOptions, "trustedKeys"> & { key?: string } = {},
): VerifyReport {
  const { key, ...rest } = opts;
  const v = new Verifier({ trustedKeys: keys, ...rest });
  for (const m of asInput(msgs, key)) v.add(m);
  return v.finish();
}

/** The distinct finding codes of a report, sorted. */
export function findingCodes(r: VerifyReport): FindingCode[] {
  return [
    ...new Set([...r.unplaced, ...r.streams.flatMap((s) => s.findings)].map((f) => f.code)),
  ].sort();
}

/**
 * Another history of `b`'s first epoch, sealed with its real epoch key and shown with its real
 * certificate: the same records up to `from`, others after it, `total` log records in all. What
 * an attacker holding the epoch key shows one reader and not another (a split view). `start` is
 * when b's clock began; b must use the default seal policy and event.
 */
export function splitView(b: StreamBuilder, start: number, from: number, total: number): Emitted[] {
  const clock = new Clock(start);
  const key = b.epochKeys[0] as SigningKey;
  const { sealer, out } = StreamSealer.open(
    { origin: b.origin, key, seal: DEFAULT_SEAL, now: clock.now },
    null,
  );
  out.push(certMessage(b.certs[0] as KeyCert));
  for (let i = 0; i < total; i++) {
    clock.advance(1);
    const e = { ...sampleEvent(i), k8s: b.identity };
    out.push(...sealer.appendLog(i < from ? e : { ...e, raw: `${e.raw} (rewritten)` }));
  }
  return out;
}

/** What the first pass keeps of one stream's messages: the input of a single rule, in tests. */
export function streamFacts(msgs: readonly Emitted[]): StreamFacts {
  const ingest = new Ingest(DEFAULT_LIMITS);
  for (const m of asInput(msgs)) ingest.add(m);
  const [facts, ...others] = [...ingest.streams.values()];
  if (!facts || others.length > 0) throw new Error("expected the messages of one stream");
  return facts;
}
