// First pass of verification: each message is checked on its own (size, depth, UTF-8, canonical
// bytes, schema, origin against the Kafka key) and filed under its stream. Only what passes is
// kept, as compact facts (hashes and the few fields the stream checks need, in columns: see
// leaves.ts), so memory grows with the number of records, not their size.
// The bytes go through the single-pass scanner (scan.ts) rather than JSON.parse: it settles
// format and canonical form for every message and, for `log` records (nearly all of them),
// the whole schema and the fields kept. Only the rare other messages are then parsed and
// checked with the zod schemas.

import type { z } from "zod";
import { canonicalBytes, type Json, type ParseLimits } from "../canonical.ts";
import { leafDigest } from "../merkle.ts";
import { CheckpointMessage, type KeyCert, KeyCertMessage, LeafRecord } from "../record.ts";
import { type Finding, FindingList, finding } from "./findings.ts";
import { type LeafExtras, LeafTable } from "./leaves.ts";
import { type LogFields, scanRecord } from "./scan.ts";

export { type LeafFact, sourceKey } from "./leaves.ts";

export interface InputMessage {
  /** The Kafka message key; absent for a ledger file, where the record's origin is its stream. */
  key?: string | undefined;
  value: Uint8Array;
  /** Where it came from, for findings: "partition 0 offset 17", "line 5". */
  position: string;
}

export interface CheckpointFact {
  epoch: number;
  note: string;
  range: { size: number; hashes: string[] } | undefined;
  arrival: number;
  position: string;
}

/** A `key-cert` message: the operator's certificate for an epoch key, checked in the second pass. */
export interface CertFact {
  /** The message's epoch (the certificate names its own, which must agree). */
  epoch: number;
  cert: KeyCert;
  position: string;
}

export interface StreamFacts {
  origin: string;
  leaves: LeafTable;
  checkpoints: CheckpointFact[];
  certs: CertFact[];
}

export class Ingest {
  readonly streams = new Map<string, StreamFacts>();
  private readonly found = new FindingList();
  private arrival = 0;
  private readonly limits: ParseLimits;
  private lastOrigin: string | null = null;
  private lastStream: StreamFacts | null = null;

  constructor(limits: ParseLimits) {
    this.limits = limits;
  }

  /** Findings about single messages, in input order (past the listing limit: counted). */
  get findings(): Finding[] {
    return this.found.all();
  }

  add(msg: InputMessage): void {
    const arrival = this.arrival++;
    const scanned = scanRecord(msg.value, this.limits);
    if (scanned.kind === "log") {
      this.addLog(msg, scanned.log);
      return;
    }
    if (scanned.kind !== "other") {
      const code = scanned.kind === "canonical" ? "NON_CANONICAL" : "BAD_FORMAT";
      this.found.push(finding(code, scanned.message, { position: msg.position, ...originOf(msg) }));
      return;
    }
    // Canonical, so valid UTF-8 and JSON without a byte order mark: this parse cannot fail.
    const value = JSON.parse(utf8.decode(msg.value)) as Json;
    const type =
      typeof value === "object" && value !== null && !Array.isArray(value) ? value.type : undefined;
    if (type === "checkpoint") this.addCheckpoint(msg, value, arrival);
    else if (type === "key-cert") this.addCert(msg, value);
    else this.addLeaf(msg, value);
  }

  private stream(origin: string): StreamFacts {
    // Consecutive records of a stream carry the same origin string (the scanner reuses it).
    if (origin === this.lastOrigin && this.lastStream !== null) return this.lastStream;
    let s = this.streams.get(origin);
    if (!s) {
      s = { origin, leaves: new LeafTable(), checkpoints: [], certs: [] };
      this.streams.set(origin, s);
    }
    this.lastOrigin = origin;
    this.lastStream = s;
    return s;
  }

  private originMatches(msg: InputMessage, origin: string): boolean {
    if (msg.key === undefined || msg.key === origin) return true;
    this.found.push(
      finding("WRONG_ORIGIN", `record of ${origin} published under the key of ${msg.key}`, {
        origin: msg.key,
        position: msg.position,
      }),
    );
    return false;
  }

  /** A log record the scanner checked against the whole LogRecord schema. */
  private addLog(msg: InputMessage, r: LogFields): void {
    if (!this.originMatches(msg, r.origin)) return;
    const leaves = this.stream(r.origin).leaves;
    const i = leaves.push(r.seq, r.epoch, "log", leafDigest(msg.value), r.prev, msg.position);
    leaves.setSource(i, r.file, r.offset, r.lineHash, r.k8s);
  }

  private schemaFailure(msg: InputMessage, what: string, error: z.ZodError): void {
    const issue = error.issues[0];
    this.found.push(
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

  private addLeaf(msg: InputMessage, value: Json): void {
    const parsed = LeafRecord.safeParse(value);
    if (!parsed.success) {
      this.schemaFailure(msg, "record", parsed.error);
      return;
    }
    const r = parsed.data;
    if (!this.originMatches(msg, r.origin)) return;
    const leaves = this.stream(r.origin).leaves;
    const i = leaves.push(r.seq, r.epoch, r.type, leafDigest(msg.value), r.prev, msg.position);
    let extras: LeafExtras | undefined;
    switch (r.type) {
      case "log": {
        const { file, offset, lineHash } = r.event.source;
        // The record is canonical: this is the text of event.k8s as it stands in it.
        leaves.setSource(i, file, offset, lineHash, canonicalBytes(r.event.k8s).toString());
        break;
      }
      case "epoch-start":
        extras = { key: r.key, heartbeatMs: r.heartbeatMs, link: r.link, time: r.time };
        break;
      case "key-rotate":
        extras = { key: r.key, time: r.time };
        break;
      case "gap":
        extras = {
          gap: { reason: r.reason, file: r.file, lostFrom: r.lostFrom, lostTo: r.lostTo },
          time: r.time,
        };
        break;
      default:
        extras = { time: r.time };
    }
    if (extras) leaves.setExtras(i, extras);
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

  private addCert(msg: InputMessage, value: Json): void {
    const parsed = KeyCertMessage.safeParse(value);
    if (!parsed.success) {
      this.schemaFailure(msg, "key-cert message", parsed.error);
      return;
    }
    const c = parsed.data;
    if (!this.originMatches(msg, c.origin)) return;
    this.stream(c.origin).certs.push({ epoch: c.epoch, cert: c.cert, position: msg.position });
  }
}

const utf8 = new TextDecoder("utf-8");

function originOf(msg: InputMessage): { origin?: string } {
  return msg.key === undefined ? {} : { origin: msg.key };
}
