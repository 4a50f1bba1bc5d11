// First pass of verification: each message is checked on its own (size, depth, UTF-8, canonical
// bytes, schema, origin against the Kafka key) and filed under its stream. Only what passes is
// kept, as compact facts (hashes and the few fields the stream checks need), so memory grows
// with the number of records, not their size.
// The bytes go through the single-pass scanner (scan.ts) rather than JSON.parse: it settles
// format and canonical form for every message and, for `log` records (nearly all of them),
// the whole schema and the fields kept. Only the rare other messages are then parsed and
// checked with the zod schemas.

import type { z } from "zod";
import type { Json, ParseLimits } from "../canonical.ts";
import { type Digest, digestHex, leafDigest } from "../merkle.ts";
import { CheckpointMessage, type KeyCert, LeafRecord, type LeafType } from "../record.ts";
import { type Finding, finding } from "./findings.ts";
import { type LogFields, scanRecord } from "./scan.ts";

export interface InputMessage {
  /** The Kafka message key; absent for a ledger file, where the record's origin is its stream. */
  key?: string | undefined;
  value: Uint8Array;
  /** Where it came from, for findings: "partition 0 offset 17", "line 5". */
  position: string;
}

export interface LeafFact {
  seq: number;
  epoch: number;
  type: LeafType;
  /** The leaf hash (latin1 digest string). */
  hash: Digest;
  /** The record's prev (hex); "" when `prevDigest` stands for it. */
  prev: string | null;
  /**
   * Set when prev was the hex of the leaf that arrived just before in the same stream: that
   * leaf's digest, shared rather than a second 64-character string kept per record.
   */
  prevDigest?: Digest;
  arrival: number;
  position: string;
  /** epoch-start / key-rotate */
  cert?: KeyCert;
  heartbeatMs?: number;
  link?: { epoch: number; checkpoint: string } | null;
  time?: string;
  /**
   * log: where the line came from, to recognise a source read twice (see sourceKey). Kept as
   * the parts the record already gave, not joined: most records never need the key.
   */
  file?: string;
  offset?: number;
  lineHash?: string;
  gap?: { reason: string; file: string; lostFrom: number; lostTo: number };
}

/** The source of a log record's line (file, offset, line hash), or undefined for other leaves. */
export function sourceKey(l: LeafFact): string | undefined {
  return l.lineHash === undefined ? undefined : `${l.file}\u0000${l.offset}\u0000${l.lineHash}`;
}

export interface CheckpointFact {
  epoch: number;
  note: string;
  range: { size: number; hashes: string[] } | undefined;
  arrival: number;
  position: string;
}

export interface StreamFacts {
  origin: string;
  leaves: LeafFact[];
  checkpoints: CheckpointFact[];
}

export class Ingest {
  readonly streams = new Map<string, StreamFacts>();
  readonly findings: Finding[] = [];
  private arrival = 0;
  private readonly limits: ParseLimits;

  constructor(limits: ParseLimits) {
    this.limits = limits;
  }

  add(msg: InputMessage): void {
    const arrival = this.arrival++;
    const scanned = scanRecord(msg.value, this.limits);
    if (scanned.kind === "log") {
      this.addLog(msg, scanned.log, arrival);
      return;
    }
    if (scanned.kind !== "other") {
      const code = scanned.kind === "canonical" ? "NON_CANONICAL" : "BAD_FORMAT";
      this.findings.push(
        finding(code, scanned.message, { position: msg.position, ...originOf(msg) }),
      );
      return;
    }
    // Canonical, so valid UTF-8 and JSON without a byte order mark: this parse cannot fail.
    const value = JSON.parse(utf8.decode(msg.value)) as Json;
    const type =
      typeof value === "object" && value !== null && !Array.isArray(value) ? value.type : undefined;
    if (type === "checkpoint") this.addCheckpoint(msg, value, arrival);
    else this.addLeaf(msg, value, arrival);
  }

  private stream(origin: string): StreamFacts {
    let s = this.streams.get(origin);
    if (!s) {
      s = { origin, leaves: [], checkpoints: [] };
      this.streams.set(origin, s);
    }
    return s;
  }

  private originMatches(msg: InputMessage, origin: string): boolean {
    if (msg.key === undefined || msg.key === origin) return true;
    this.findings.push(
      finding("WRONG_ORIGIN", `record of ${origin} published under the key of ${msg.key}`, {
        origin: msg.key,
        position: msg.position,
      }),
    );
    return false;
  }

  /** A log record the scanner checked against the whole LogRecord schema. */
  private addLog(msg: InputMessage, r: LogFields, arrival: number): void {
    if (!this.originMatches(msg, r.origin)) return;
    const stream = this.stream(r.origin);
    const fact: LeafFact = {
      seq: r.seq,
      epoch: r.epoch,
      type: "log",
      hash: leafDigest(msg.value),
      prev: r.prev,
      arrival,
      position: msg.position,
    };
    const before = stream.leaves[stream.leaves.length - 1];
    if (before !== undefined && r.prev !== null && r.prev === digestHex(before.hash)) {
      fact.prev = "";
      fact.prevDigest = before.hash;
    }
    fact.file = r.file;
    fact.offset = r.offset;
    fact.lineHash = r.lineHash;
    stream.leaves.push(fact);
  }

  private schemaFailure(msg: InputMessage, what: string, error: z.ZodError): void {
    const issue = error.issues[0];
    this.findings.push(
      finding(
        "BAD_FORMAT",
        `not a ${what}: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
        {
          position: msg.position,
          ...originOf(msg),
        },
      ),
    );
  }

  private addLeaf(msg: InputMessage, value: Json, arrival: number): void {
    const parsed = LeafRecord.safeParse(value);
    if (!parsed.success) {
      this.schemaFailure(msg, "record", parsed.error);
      return;
    }
    const r = parsed.data;
    if (!this.originMatches(msg, r.origin)) return;
    const fact: LeafFact = {
      seq: r.seq,
      epoch: r.epoch,
      type: r.type,
      hash: leafDigest(msg.value),
      prev: r.prev,
      arrival,
      position: msg.position,
    };
    switch (r.type) {
      case "log":
        fact.file = r.event.source.file;
        fact.offset = r.event.source.offset;
        fact.lineHash = r.event.source.lineHash;
        break;
      case "epoch-start":
        fact.cert = r.cert;
        fact.heartbeatMs = r.heartbeatMs;
        fact.link = r.link;
        fact.time = r.time;
        break;
      case "key-rotate":
        fact.cert = r.cert;
        fact.time = r.time;
        break;
      case "gap":
        fact.gap = { reason: r.reason, file: r.file, lostFrom: r.lostFrom, lostTo: r.lostTo };
        fact.time = r.time;
        break;
      default:
        fact.time = r.time;
    }
    this.stream(r.origin).leaves.push(fact);
  }

  private addCheckpoint(msg: InputMessage, value: Json, arrival: number): void {
    const parsed = CheckpointMessage.safeParse(value);
    if (!parsed.success) {
      this.schemaFailure(msg, "checkpoint", parsed.error);
      return;
    }
    const c = parsed.data;
    if (!this.originMatches(msg, c.origin)) return;
    this.stream(c.origin).checkpoints.push({
      epoch: c.epoch,
      note: c.note,
      range: c.range,
      arrival,
      position: msg.position,
    });
  }
}

const utf8 = new TextDecoder("utf-8");

function originOf(msg: InputMessage): { origin?: string } {
  return msg.key === undefined ? {} : { origin: msg.key };
}
