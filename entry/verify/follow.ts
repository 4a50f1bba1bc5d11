// Follow mode's verification: the topic is read in rounds, and each round verifies only what is
// new against the trusted state the earlier rounds built (kept in memory), with the same
// Verifier as a one-off run. Memory stays bounded by the number of streams, not their length:
// - per stream, the trusted state (a compact range) and the records after its last verified
//   checkpoint (carried to the next round, which needs them to go on; capped in bytes);
// - the latest findings of each stream (capped per code by FindingList).
// What earlier rounds verified is not read again: a GAP wholly below a tree's trusted size is
// the head those rounds read, not a loss. Liveness (STALE) is judged here for every stream each
// round, from its newest verified checkpoint, whether or not the round brought it anything.
import { parseNote } from "../checkpoint.ts";
import type { Finding } from "./findings.ts";
import { finding, findingsIn } from "./findings.ts";
import type { InputMessage } from "./ingest.ts";
import { checkLiveness } from "./rules/liveness.ts";
import type { StreamResult } from "./stream.ts";
import {
  emptyTrustedState,
  type TrustedKey,
  type TrustedState,
  type TrustedTree,
} from "./trust.ts";
import { Verifier, type VerifyReport } from "./verifier.ts";

export interface FollowOptions {
  trustedKeys: readonly TrustedKey[];
  graceMs: number;
  /** Bytes of unsealed records carried per stream before the witness gives up on it. */
  carryBytes?: number;
}

/** A checkpoint verified this round, to be cosigned: the log's note, as it was in the topic. */
export interface Verified {
  origin: string;
  size: number;
  note: string;
}

export interface RoundResult {
  /** Every stream's latest result, as one report (for status.integrity and the log). */
  report: VerifyReport;
  /** Newly verified checkpoints, one per stream and tree at most, that no error holds back. */
  verified: Verified[];
}

const DEFAULT_CARRY_BYTES = 32 << 20;
const DEFAULT_HEARTBEAT_MS = 30_000;

interface Carry {
  messages: InputMessage[];
  bytes: number;
}

type Summary = Omit<StreamResult, "trees">;

export class FollowVerifier {
  private readonly opts: FollowOptions;
  private state: TrustedState = emptyTrustedState();
  private readonly carry = new Map<string, Carry>();
  private readonly latest = new Map<string, Summary>();
  private readonly heartbeats = new Map<string, number>();
  /** Streams whose unsealed records outgrew the carry: no longer cosigned (until a restart). */
  private readonly abandoned = new Map<string, Finding>();
  /** The largest size cosigned, by origin and tree (genesis). */
  private readonly cosigned = new Map<string, number>();
  private messages = 0;
  /** Streams with a checkpoint whose certificate had not come by the end of the last round. */
  private readonly waitingForCert = new Set<string>();

  constructor(opts: FollowOptions) {
    this.opts = opts;
  }

  /** Call after a verified checkpoint's cosignature is published: it is not offered again. */
  markCosigned(origin: string, genesis: number, size: number): void {
    this.cosigned.set(`${origin}\u0000${genesis}`, size);
  }

  round(batch: readonly InputMessage[], now: number): RoundResult {
    this.messages += batch.length;
    const byOrigin = new Map<string, InputMessage[]>();
    const keyless: InputMessage[] = [];
    for (const m of batch) {
      if (m.key === undefined) keyless.push(m);
      else {
        const list = byOrigin.get(m.key);
        if (list) list.push(m);
        else byOrigin.set(m.key, [m]);
      }
    }
    // Liveness is judged below for every stream alike; the verifier's clock judges dates.
    const v = new Verifier({
      trustedKeys: this.opts.trustedKeys,
      asOf: now,
      graceMs: this.opts.graceMs,
      trustedState: {
        v: 1,
        updated: this.state.updated,
        origins: Object.fromEntries(
          [...byOrigin.keys()].flatMap((o) => {
            const known = this.state.origins[o];
            return known ? [[o, known]] : [];
          }),
        ),
      },
    });
    const input = new Map<string, InputMessage[]>();
    for (const [origin, fresh] of byOrigin) {
      const all = [...(this.carry.get(origin)?.messages ?? []), ...fresh];
      input.set(origin, all);
      for (const m of all) v.add(m);
    }
    for (const m of keyless) v.add(m);
    const report = v.finish();
    this.state.updated = report.state.updated;

    const verified: Verified[] = [];
    for (const s of report.streams) {
      const prior = this.state.origins[s.origin]?.trees ?? [];
      const findings = this.inProgress(
        s.origin,
        s.findings.filter((f) => !readBefore(f, prior)),
      );
      const trees = report.state.origins[s.origin]?.trees ?? [];
      this.state.origins[s.origin] = { trees };
      const msgs = input.get(s.origin) ?? [];
      this.noteHeartbeat(s.origin, msgs);
      const gaveUp = this.carryOver(s.origin, msgs, newest(trees));
      if (gaveUp) this.abandoned.set(s.origin, gaveUp);
      const blocked =
        this.abandoned.has(s.origin) ||
        findings.some((f) => f.level === "error" && f.code !== "STALE");
      if (!blocked) verified.push(...this.newlyVerified(s.origin, trees, msgs));
      this.latest.set(s.origin, { ...s, findings });
    }
    return { report: this.rollUp(report.unplaced, now), verified };
  }

  /**
   * What a stream still being written shows at the end of a round: records its next checkpoint
   * will seal (UNSEALED_TAIL, a warning here: if the checkpoint never comes, STALE says so), and
   * a checkpoint whose certificate is published just after it (UNCERTIFIED_KEY, a warning for
   * one round: the carried messages are judged again with what the next round brings).
   */
  private inProgress(origin: string, findings: Finding[]): Finding[] {
    const waited = this.waitingForCert.has(origin);
    const uncertified = findings.some((f) => f.code === "UNCERTIFIED_KEY");
    if (uncertified && !waited) this.waitingForCert.add(origin);
    else if (!uncertified) this.waitingForCert.delete(origin);
    return findings.map((f) =>
      (f.code === "UNSEALED_TAIL" || (f.code === "UNCERTIFIED_KEY" && !waited)) &&
      f.level === "error"
        ? { ...f, level: "warning", message: `${f.message} (so far: the stream is followed)` }
        : f,
    );
  }

  /** The checkpoints of this round's messages that the new trusted trees end at. */
  private newlyVerified(origin: string, trees: readonly TrustedTree[], msgs: InputMessage[]) {
    const out: Verified[] = [];
    for (const t of trees) {
      if (t.size <= (this.cosigned.get(`${origin}\u0000${t.genesis}`) ?? 0)) continue;
      for (let i = msgs.length - 1; i >= 0; i--) {
        const note = checkpointNote(msgs[i] as InputMessage);
        if (note === undefined) continue;
        const c = safeParse(note);
        if (c && c.origin === origin && c.size === t.size && c.root.toString("base64") === t.root) {
          out.push({ origin, size: t.size, note });
          break;
        }
      }
    }
    return out;
  }

  /**
   * Keeps the records the next round needs: those at or past the verified size, and the newest
   * certificates (a key introduced there may not be in the state yet). Returns a finding when
   * they outgrow the cap: the stream is then no longer followed.
   */
  private carryOver(
    origin: string,
    msgs: readonly InputMessage[],
    tree: TrustedTree | undefined,
  ): Finding | undefined {
    const size = tree?.size ?? 0;
    const kept: InputMessage[] = [];
    const certs: InputMessage[] = [];
    let bytes = 0;
    for (const m of msgs) {
      const head = headOf(m);
      if (head === undefined) continue;
      if (head.type === "key-cert") certs.push(m);
      // Leaves from the verified size on, and checkpoints past it (their certificate, or the
      // records they seal, may come next round); a checkpoint's seq is its size.
      else if (
        head.seq !== undefined &&
        head.seq >= (head.type === "checkpoint" ? size + 1 : size)
      ) {
        kept.push(m);
        bytes += m.value.length;
      }
    }
    if (kept.length === 0) {
      this.carry.delete(origin);
      return undefined;
    }
    const cap = this.opts.carryBytes ?? DEFAULT_CARRY_BYTES;
    if (bytes > cap) {
      this.carry.delete(origin);
      return finding(
        "UNVERIFIABLE",
        `more than ${cap} bytes of records after the last verified checkpoint (size ${size}): the witness stops following this stream`,
        { origin },
      );
    }
    const lastCerts = certs.slice(-4);
    this.carry.set(origin, { messages: [...lastCerts, ...kept], bytes });
    return undefined;
  }

  private noteHeartbeat(origin: string, msgs: readonly InputMessage[]): void {
    for (const m of msgs) {
      if (!Buffer.from(m.value.buffer, m.value.byteOffset, m.value.length).includes(EPOCH_START))
        continue;
      const hb = (parseJson(m) as { heartbeatMs?: unknown } | undefined)?.heartbeatMs;
      if (typeof hb === "number") this.heartbeats.set(origin, hb);
    }
  }

  /** Every stream's latest result with liveness as of `now`, as one report. */
  private rollUp(unplaced: Finding[], now: number): VerifyReport {
    const streams: Summary[] = [];
    for (const [origin, s] of [...this.latest].sort(([a], [b]) => a.localeCompare(b))) {
      const findings = s.findings.filter((f) => f.code !== "STALE");
      const gaveUp = this.abandoned.get(origin);
      if (gaveUp && !findings.includes(gaveUp)) findings.push(gaveUp);
      const t = newest(this.state.origins[origin]?.trees ?? []);
      if (t)
        checkLiveness(
          now,
          this.opts.graceMs,
          {
            epoch: t.epoch,
            ended: t.ended,
            heartbeatMs: this.heartbeats.get(origin) ?? DEFAULT_HEARTBEAT_MS,
          },
          t.checkpointTime || undefined,
          (code, message, where) => findings.push(finding(code, message, { origin, ...where })),
        );
      streams.push({ ...s, findings });
    }
    const counts = { error: 0, warning: 0, info: 0 };
    for (const f of [...unplaced, ...streams.flatMap((s) => s.findings)])
      counts[f.level] += findingsIn(f);
    return {
      ok: counts.error === 0,
      messages: this.messages,
      streams,
      unplaced,
      counts,
      state: this.state,
    };
  }
}

const EPOCH_START = Buffer.from('"type":"epoch-start"');
const CHECKPOINT = Buffer.from('"type":"checkpoint"');

/**
 * A GAP about what earlier rounds read: wholly below what a tree of the state had verified, or
 * a whole tree of the state that this round brought nothing of.
 */
function readBefore(f: Finding, prior: readonly TrustedTree[]): boolean {
  if (f.code !== "GAP") return false;
  const tree = prior.find((t) => t.genesis === f.epoch);
  if (!tree) return false;
  if (!f.seq) return true;
  return f.seq[0] === 0 && f.seq[1] < tree.size;
}

function newest(trees: readonly TrustedTree[]): TrustedTree | undefined {
  return trees.reduce<TrustedTree | undefined>(
    (a, t) => (a === undefined || t.genesis > a.genesis ? t : a),
    undefined,
  );
}

function parseJson(m: InputMessage): unknown {
  try {
    return JSON.parse(Buffer.from(m.value).toString("utf8"));
  } catch {
    return undefined; // the verifier reported it (BAD_FORMAT): nothing to carry
  }
}

/** A message's type and place: a leaf's seq, a checkpoint's size. */
function headOf(m: InputMessage): { type: string; seq?: number } | undefined {
  const j = parseJson(m) as { type?: unknown; seq?: unknown; note?: unknown } | undefined;
  if (typeof j?.type !== "string") return undefined;
  const seq =
    j.type === "checkpoint"
      ? typeof j.note === "string"
        ? safeParse(j.note)?.size
        : undefined
      : j.seq;
  return typeof seq === "number" ? { type: j.type, seq } : { type: j.type };
}

function checkpointNote(m: InputMessage): string | undefined {
  const raw = Buffer.from(m.value.buffer, m.value.byteOffset, m.value.length);
  if (!raw.includes(CHECKPOINT)) return undefined;
  const note = (parseJson(m) as { note?: unknown } | undefined)?.note;
  return typeof note === "string" ? note : undefined;
}

function safeParse(note: string) {
  try {
    return parseNote(note).checkpoint;
  } catch {
    return undefined;
  }
}
