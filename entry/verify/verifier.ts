// The verifier as a library: feed it messages in the order the store returns them (a ledger
// file's lines, or a Kafka topic's partitions), then ask for the report. It trusts only the
// policy keys and the state it is given, reports every finding and carries on after each one.
import { DEFAULT_LIMITS, type ParseLimits } from "../canonical.ts";
import { keyIdOf } from "../keys.ts";
import type { Witnessed } from "../witness.ts";
import { type Finding, finding, findingsIn } from "./findings.ts";
import { Ingest, type InputMessage, type StreamFacts } from "./ingest.ts";
import { vanishedTree } from "./rules/retention.ts";
import { vanishedFinding, WitnessCheck } from "./rules/witness.ts";
import { type PolicyKey, type StreamContext, type StreamResult, verifyStream } from "./stream.ts";
import {
  emptyTrustedState,
  type TrustedKey,
  type TrustedState,
  type TrustedTree,
} from "./trust.ts";

export interface VerifyOptions {
  trustedKeys: readonly TrustedKey[];
  trustedState?: TrustedState;
  /** "Now" for liveness (STALE); leave undefined to verify an archive without it. */
  now?: number;
  /**
   * The verifier's own clock (ms), against which key validity and dates are judged, never
   * against times the material declares. Default: `now`, else the system clock.
   */
  asOf?: number;
  /**
   * The topic's retention.ms: only retention excuses records missing from the head (or whole
   * streams) that are older than asOf - retentionMs. Undefined: nothing is excused.
   */
  retentionMs?: number;
  /** Added to a stream's heartbeat before it counts as STALE. */
  graceMs?: number;
  limits?: ParseLimits;
  /**
   * Checkpoints a trusted witness cosigned, by origin (verify --witness): the topic must still
   * hold them, with the same roots (rules/witness.ts).
   */
  witnessed?: ReadonlyMap<string, readonly Witnessed[]>;
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

/**
 * One stream's check, so that nothing unexpected in it takes the other streams' reports with it:
 * an exception becomes an UNVERIFIABLE finding for that stream, and the state keeps its trees.
 */
function checkStream(facts: StreamFacts, ctx: StreamContext): StreamResult {
  try {
    return verifyStream(facts, ctx);
  } catch (err) {
    return {
      origin: facts.origin,
      findings: [
        finding("UNVERIFIABLE", `the stream could not be checked: ${(err as Error).message}`, {
          origin: facts.origin,
        }),
      ],
      verified: null,
      leaves: facts.leaves.length,
      checkpoints: facts.checkpoints.length,
      trees: [...ctx.trusted],
    };
  }
}

/** The finding for a stream of the state with no message left in the store. */
function vanished(
  origin: string,
  trees: readonly TrustedTree[],
  asOf: number,
  retentionMs: number | undefined,
): Finding {
  const newest = trees.reduce<TrustedTree | undefined>(
    (a, t) => (a === undefined || t.checkpointTime > a.checkpointTime ? t : a),
    undefined,
  );
  const f = newest
    ? vanishedTree(newest, asOf, retentionMs)
    : { code: "HEAD_TRUNCATED" as const, message: "nothing of it was verified before" };
  return finding(f.code, `stream ${origin} has no records left: ${f.message}`, { origin });
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
    const asOf = this.opts.asOf ?? this.opts.now ?? Date.now();
    const priorUpdated = Date.parse(prior.updated);
    const state: TrustedState = {
      v: 1,
      // The state only grows: its clock never goes back either.
      updated: new Date(Math.max(asOf, priorUpdated || 0)).toISOString(),
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
      const trusted = prior.origins[origin]?.trees ?? [];
      const cosigned = this.opts.witnessed?.get(origin);
      const witness = cosigned ? new WitnessCheck(cosigned) : undefined;
      const { trees, ...result } = checkStream(facts, {
        policyKeys: this.policyKeys,
        now: this.opts.now,
        asOf,
        retentionMs: this.opts.retentionMs,
        stateUpdated: Number.isNaN(priorUpdated) ? undefined : priorUpdated,
        graceMs: this.opts.graceMs ?? 60_000,
        trusted,
        ...(witness ? { witness } : {}),
      });
      if (witness) result.findings.push(...witness.vanished(origin, asOf, this.opts.retentionMs));
      streams.push({ ...result, findings: [...(byOrigin.get(origin) ?? []), ...result.findings] });
      state.origins[origin] = { trees };
    }
    // A stream the state knows and the store no longer holds: the state keeps it (it only grows).
    for (const [origin, known] of Object.entries(prior.origins)) {
      if (this.ingest.streams.has(origin)) continue;
      unplaced.push(vanished(origin, known.trees, asOf, this.opts.retentionMs));
    }
    // A stream the witness cosigned with nothing left in the store: named, by its newest.
    for (const [origin, cosigned] of this.opts.witnessed ?? []) {
      const newest = cosigned.reduce<Witnessed | undefined>(
        (a, w) => (a === undefined || w.epoch > a.epoch ? w : a),
        undefined,
      );
      if (this.ingest.streams.has(origin) || newest === undefined) continue;
      unplaced.push(vanishedFinding(origin, newest, asOf, this.opts.retentionMs));
    }
    const all = [...unplaced, ...streams.flatMap((s) => s.findings)];
    const counts = { error: 0, warning: 0, info: 0 };
    for (const f of all) counts[f.level] += findingsIn(f);
    return { ok: counts.error === 0, messages: this.count, streams, unplaced, counts, state };
  }
}
