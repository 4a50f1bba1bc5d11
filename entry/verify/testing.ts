// Builds real streams with the sealer, for tests of the verifier (unit, integration and the
// tamper catalog): the records are what the sidecar's own code emits, never hand-made JSON.
import { generateSigningKey, type SigningKey } from "../keys.ts";
import type { AuditEvent } from "../record.ts";
import { type Emitted, type SealPolicy, StreamSealer, type StreamState } from "../seal.ts";
import type { InputMessage } from "./ingest.ts";
import type { TrustedKey } from "./trust.ts";

export const T0 = Date.parse("2026-11-23T10:00:00.000Z");

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
      podUid: "00000000-0000-0000-0000-000000000001",
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

export interface BuiltStream {
  origin: string;
  messages: Emitted[];
  sealer: StreamSealer;
  clock: Clock;
  policyKey: SigningKey;
}

export const DEFAULT_SEAL: SealPolicy = { entries: 10, millis: 1_000, heartbeatMs: 30_000 };

export class StreamBuilder {
  readonly origin: string;
  readonly clock: Clock;
  readonly policyKey: SigningKey;
  readonly messages: Emitted[] = [];
  /** Every epoch key the sealer made, in order: tests play an attacker who stole one. */
  readonly epochKeys: SigningKey[] = [];
  sealer: StreamSealer;
  private readonly seal: SealPolicy;
  private readonly event: (i: number) => AuditEvent;
  private next = 0;

  constructor(
    opts: {
      origin?: string;
      seal?: Partial<SealPolicy>;
      policyKey?: SigningKey;
      clock?: Clock;
      saved?: StreamState | null;
      event?: (i: number) => AuditEvent;
    } = {},
  ) {
    this.origin = opts.origin ?? "test/payments/api-0/api/var/log/app/access.log";
    this.clock = opts.clock ?? new Clock();
    this.policyKey = opts.policyKey ?? generateSigningKey();
    this.seal = { ...DEFAULT_SEAL, ...opts.seal };
    this.event = opts.event ?? ((i) => sampleEvent(i));
    const { sealer, out } = StreamSealer.open(this.sealerOptions(), opts.saved ?? null);
    this.sealer = sealer;
    this.messages.push(...out);
  }

  private sealerOptions() {
    return {
      origin: this.origin,
      policyKey: this.policyKey,
      seal: this.seal,
      now: this.clock.now,
      newKey: () => {
        const k = generateSigningKey();
        this.epochKeys.push(k);
        return k;
      },
    };
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
    const { sealer, out } = StreamSealer.open(this.sealerOptions(), state);
    this.sealer = sealer;
    this.messages.push(...out);
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
