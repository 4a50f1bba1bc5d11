// The verifier as a library: feed it messages in the order the store returns them (a ledger
// file's lines, or a Kafka topic's partitions), then ask for the report. It trusts only the
// policy keys and the state it is given, reports every finding and carries on after each one.
import { DEFAULT_LIMITS, type ParseLimits } from "../canonical.ts";
import { keyIdOf } from "../keys.ts";
import { type Finding, finding, findingsIn } from "./findings.ts";
import { Ingest, type InputMessage } from "./ingest.ts";
import { type PolicyKey, type StreamResult, verifyStream } from "./stream.ts";
import { emptyTrustedState, type TrustedKey, type TrustedState } from "./trust.ts";

export interface VerifyOptions {
  trustedKeys: readonly TrustedKey[];
  trustedState?: TrustedState;
  /** "Now" for liveness (STALE); leave undefined to verify an archive without it. */
  now?: number;
  /** Added to a stream's heartbeat before it counts as STALE. */
  graceMs?: number;
  limits?: ParseLimits;
}

export interface VerifyReport {
  ok: boolean;
  messages: number;
  streams: Omit<StreamResult, "trees">[];
  /** Findings about single messages that could not be placed in a stream. */
  unplaced: Finding[];
  /** Findings by level, those counted but not listed one by one included. */
  counts: { error: number; warning: number; info: number };
  state: TrustedState;
}

export class TrustError extends Error {
  override readonly name = "TrustError";
}

export function policyKeyMap(keys: readonly TrustedKey[]): Map<string, PolicyKey> {
  const map = new Map<string, PolicyKey>();
  for (const k of keys) {
    const raw = Buffer.from(k.publicKey, "base64");
    if (raw.length !== 32)
      throw new TrustError(`trusted key ${k.keyId ?? k.publicKey}: not a 32-byte Ed25519 key`);
    const id = keyIdOf(raw);
    if (k.keyId && k.keyId !== id)
      throw new TrustError(`trusted key ${k.keyId}: its public key has id ${id}`);
    map.set(id, {
      publicKey: raw,
      ...(k.notBefore ? { notBefore: Date.parse(k.notBefore) } : {}),
      ...(k.notAfter ? { notAfter: Date.parse(k.notAfter) } : {}),
    });
  }
  if (map.size === 0) throw new TrustError("no trusted policy keys: nothing could be verified");
  return map;
}

export class Verifier {
  private readonly ingest: Ingest;
  private readonly opts: VerifyOptions;
  private readonly policyKeys: Map<string, PolicyKey>;
  private count = 0;

  constructor(opts: VerifyOptions) {
    this.opts = opts;
    this.policyKeys = policyKeyMap(opts.trustedKeys);
    this.ingest = new Ingest(opts.limits ?? DEFAULT_LIMITS);
  }

  add(msg: InputMessage): void {
    this.count++;
    this.ingest.add(msg);
  }

  finish(): VerifyReport {
    const prior = this.opts.trustedState ?? emptyTrustedState();
    const state: TrustedState = {
      v: 1,
      updated: new Date().toISOString(),
      origins: { ...prior.origins },
    };
    const streams: Omit<StreamResult, "trees">[] = [];
    const unplaced: Finding[] = [];
    const byOrigin = new Map<string, Finding[]>();
    for (const f of this.ingest.findings) {
      if (!f.origin || !this.ingest.streams.has(f.origin)) unplaced.push(f);
      else {
        const list = byOrigin.get(f.origin);
        if (list) list.push(f);
        else byOrigin.set(f.origin, [f]);
      }
    }
    for (const [origin, facts] of [...this.ingest.streams].sort(([a], [b]) => a.localeCompare(b))) {
      const { trees, ...result } = verifyStream(facts, {
        policyKeys: this.policyKeys,
        now: this.opts.now,
        graceMs: this.opts.graceMs ?? 60_000,
        trusted: prior.origins[origin]?.trees ?? [],
      });
      streams.push({ ...result, findings: [...(byOrigin.get(origin) ?? []), ...result.findings] });
      state.origins[origin] = { trees };
    }
    for (const origin of Object.keys(prior.origins)) {
      if (!this.ingest.streams.has(origin)) {
        unplaced.push(
          finding("HEAD_TRUNCATED", `no records left of a stream verified before`, { origin }),
        );
      }
    }
    const all = [...unplaced, ...streams.flatMap((s) => s.findings)];
    const counts = { error: 0, warning: 0, info: 0 };
    for (const f of all) counts[f.level] += findingsIn(f);
    return { ok: counts.error === 0, messages: this.count, streams, unplaced, counts, state };
  }
}
