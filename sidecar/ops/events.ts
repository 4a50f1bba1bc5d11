// The one place where every observable happening of the sidecar is defined. Each event updates
// its Prometheus metric and writes at most one JSON log line, so nothing that moves or loses a
// line can be invisible, and the log and the metrics never disagree. Events carry no secrets by
// construction (errors are logged as kind + message, never their cause objects); the logger's
// redaction paths are a second guard.
import pino, { type DestinationStream, type Logger } from "pino";
import { Counter, Gauge, Registry } from "prom-client";
import type { CertObservation } from "../certify/keeper.ts";
import type { SidecarError } from "../errors.ts";
import type { SpoolObservation } from "../spool/spooling-sink.ts";
import type { TailObservation } from "../tail/tailer.ts";

export type SidecarEvent =
  | TailObservation
  | SpoolObservation
  | CertObservation
  | { type: "started"; version: string; origin: string; sink: string; resumedFiles: number }
  | { type: "state-missing"; path: string }
  | { type: "state-uncertain"; origin: string }
  | { type: "state-invalid"; origin: string; reason: string }
  | { type: "records-published"; records: number; bytes: number; where: string }
  | { type: "records-excluded"; records: number }
  | { type: "records-violated"; records: number }
  | { type: "gap-published"; file: string; reason: string; bytes: number }
  | { type: "checkpoint-published"; size: number; at: number }
  | { type: "backpressure"; paused: boolean; reason: string }
  | { type: "config-reloaded"; generation: number }
  | { type: "config-rejected"; error: SidecarError }
  | { type: "state-failed"; error: SidecarError }
  | { type: "stopping"; signal: string }
  | { type: "stopped"; drained: boolean };

export interface Gauges {
  /** Bytes each file has beyond what was read. */
  lag(): { file: string; bytes: number }[];
  /** Milliseconds since the epoch of the last published checkpoint, if any. */
  lastCheckpointAt(): number | undefined;
  spoolBytes(): number;
}

export interface EventsOptions {
  level?: string;
  destination?: DestinationStream;
}

/** Paths pino blanks out, should a secret ever reach a log call. */
export const REDACT_PATHS = [
  "password",
  "*.password",
  "sasl",
  "*.sasl",
  "ssl",
  "*.ssl",
  "key",
  "*.key",
  "privateKey",
  "*.privateKey",
  "token",
  "*.token",
];

export class Events {
  readonly registry = new Registry();
  readonly logger: Logger;
  private gauges: Gauges | undefined;
  private lastSinkError: string | undefined;
  private readonly m;

  constructor(opts: EventsOptions = {}) {
    this.logger = pino(
      {
        level: opts.level ?? "info",
        base: { name: "auditready-sidecar" },
        redact: { paths: REDACT_PATHS, censor: "[redacted]" },
        timestamp: pino.stdTimeFunctions.isoTime,
      },
      opts.destination,
    );
    const r = [this.registry];
    const counter = (name: string, help: string, labelNames: string[] = []) =>
      new Counter({ name: `auditready_${name}`, help, labelNames, registers: r });
    const gauge = (name: string, help: string, labelNames: string[] = []) =>
      new Gauge({ name: `auditready_${name}`, help, labelNames, registers: r });
    const events = this;
    this.m = {
      linesRead: counter("lines_read_total", "Lines read from the tailed files."),
      bytesRead: counter("bytes_read_total", "Bytes read from the tailed files."),
      linesFlagged: counter("lines_flagged_total", "Lines delivered with a flag.", ["flag"]),
      published: counter(
        "records_published_total",
        "Records acknowledged by the sink or the spool.",
        ["where"],
      ),
      publishedBytes: counter("bytes_published_total", "Record bytes acknowledged.", ["where"]),
      replayed: counter("records_replayed_total", "Spooled records published to the sink."),
      excluded: counter("records_excluded_total", "Lines not published by an exclude rule."),
      violated: counter("records_violated_total", "Records flagged for a missing required field."),
      lost: counter("data_lost_bytes_total", "Bytes the tailer could not read.", ["reason"]),
      unreadable: gauge("files_unreadable", "Matching log files the sidecar may not read."),
      gaps: counter("gaps_total", "Gap records published.", ["reason"]),
      errors: counter("errors_total", "Errors by kind.", ["kind"]),
      files: counter("files_total", "Files opened, rotated and closed.", ["event"]),
      reloads: counter("config_reloads_total", "Config reloads.", ["result"]),
      sinkUp: gauge("sink_up", "1 while the sink accepts batches directly, 0 while spooling."),
      spoolFull: gauge("spool_full", "1 while the spool is full and reading waits."),
      backpressure: gauge("backpressure", "1 while reading is paused for the downstream."),
      certified: gauge(
        "key_certified",
        "1 while the epoch key holds a valid certificate; 0 while records are held for one.",
      ),
      certExpiry: gauge(
        "key_cert_expiry_timestamp_seconds",
        "When the epoch key's certificate expires unless renewed (Unix seconds).",
      ),
      lag: new Gauge({
        name: "auditready_file_lag_bytes",
        help: "Bytes of each tailed file not yet read.",
        labelNames: ["file"],
        registers: r,
        collect() {
          this.reset();
          for (const l of events.gauges?.lag() ?? []) this.set({ file: l.file }, l.bytes);
        },
      }),
      spoolBytes: new Gauge({
        name: "auditready_spool_bytes",
        help: "Bytes on disk in the spool.",
        registers: r,
        collect() {
          this.set(events.gauges?.spoolBytes() ?? 0);
        },
      }),
      checkpointAge: new Gauge({
        name: "auditready_checkpoint_age_seconds",
        help: "Seconds since the last published checkpoint (-1 before the first).",
        registers: r,
        collect() {
          const at = events.gauges?.lastCheckpointAt();
          this.set(at === undefined ? -1 : (Date.now() - at) / 1_000);
        },
      }),
    };
    this.m.sinkUp.set(1);
    this.m.spoolFull.set(0);
    this.m.backpressure.set(0);
    this.m.certified.set(0);
  }

  setGauges(gauges: Gauges): void {
    this.gauges = gauges;
  }

  emit(e: SidecarEvent): void {
    const m = this.m;
    const log = this.logger;
    switch (e.type) {
      case "lines-read":
        m.linesRead.inc(e.lines);
        m.bytesRead.inc(e.bytes);
        log.debug({ event: e.type, file: e.file, lines: e.lines, bytes: e.bytes }, "lines read");
        return;
      case "line-flagged":
        m.linesFlagged.inc({ flag: e.flag });
        log.debug({ event: e.type, file: e.file, flag: e.flag }, "line flagged");
        return;
      case "file-opened":
        m.files.inc({ event: "opened" });
        log.info(
          { event: e.type, file: e.file, inode: e.inode, generation: e.generation, from: e.from },
          "tailing file",
        );
        return;
      case "file-rotated":
        m.files.inc({ event: "rotated" });
        log.info(
          { event: e.type, file: e.file, inode: e.inode },
          "file rotated; reading the old one to its end",
        );
        return;
      case "file-closed":
        m.files.inc({ event: "closed" });
        log.info(
          { event: e.type, file: e.file, inode: e.inode, reason: e.reason },
          "file read to its end and closed",
        );
        return;
      case "data-lost":
        m.lost.inc({ reason: e.reason }, e.bytes);
        log.warn(
          { event: e.type, file: e.file, reason: e.reason, bytes: e.bytes },
          "data lost before it could be read; a gap record reports it",
        );
        return;
      case "file-unreadable":
        m.errors.inc({ kind: "permission" });
        m.unreadable.inc();
        log.error(
          { event: e.type, file: e.file, code: e.code, bytes: e.bytes },
          "log file not readable by the sidecar: not ready until it is; a gap record reports it (the app must write it group-readable, e.g. mode 0640, on the pod's fsGroup)",
        );
        return;
      case "file-readable":
        m.unreadable.dec();
        log.info(
          { event: e.type, file: e.file },
          "log file readable again; reading from its start",
        );
        return;
      case "tail-error":
        m.errors.inc({ kind: e.error.kind });
        log.error({ event: e.type, file: e.file, ...errorFields(e.error) }, "tail error");
        return;
      case "sink-failed": {
        m.errors.inc({ kind: e.error.kind });
        m.sinkUp.set(0);
        // One line per distinct failure, not one per retry: the metric counts the retries.
        const signature = `${e.error.kind}:${e.error.message}`;
        if (signature === this.lastSinkError) return;
        this.lastSinkError = signature;
        const level = e.error.retriable ? "warn" : "error";
        log[level](
          { event: e.type, sink: e.sink, spooling: e.spooling, ...errorFields(e.error) },
          "sink failed; batches go to the spool",
        );
        return;
      }
      case "key-certified":
        m.certified.set(1);
        m.certExpiry.set(Date.parse(e.notAfter) / 1_000);
        log.info(
          { event: e.type, keyId: e.keyId, by: e.by, notAfter: e.notAfter, streams: e.streams },
          "epoch key certified",
        );
        return;
      case "certify-failed":
        m.errors.inc({ kind: e.error.kind });
        if (e.holding) m.certified.set(0);
        log[e.holding ? "warn" : "info"](
          { event: e.type, holding: e.holding, ...errorFields(e.error) },
          e.holding
            ? "epoch key not certified: records are held until it is"
            : "certificate renewal failed; the current one is still valid",
        );
        return;
      case "sink-recovered":
        m.sinkUp.set(1);
        this.lastSinkError = undefined;
        log.info(
          { event: e.type, sink: e.sink, replayedBatches: e.replayedBatches },
          "sink recovered; spool replayed",
        );
        return;
      case "spooled":
        // Counted as published{where="spool"} by records-published; here only the spool's size.
        log.debug({ event: e.type, records: e.records, spoolBytes: e.spoolBytes }, "batch spooled");
        return;
      case "replayed":
        m.replayed.inc(e.records);
        log.debug(
          { event: e.type, records: e.records, spoolBytes: e.spoolBytes },
          "spooled batch published",
        );
        return;
      case "spool-full":
        m.spoolFull.set(e.full ? 1 : 0);
        log[e.full ? "warn" : "info"](
          { event: e.type, full: e.full, spoolBytes: e.spoolBytes },
          e.full ? "spool full: reading stops until the sink is back" : "spool has room again",
        );
        return;
      case "records-published":
        m.published.inc({ where: e.where }, e.records);
        m.publishedBytes.inc({ where: e.where }, e.bytes);
        log.debug({ event: e.type, records: e.records, where: e.where }, "records published");
        return;
      case "records-excluded":
        m.excluded.inc(e.records);
        return;
      case "records-violated":
        m.violated.inc(e.records);
        return;
      case "gap-published":
        m.gaps.inc({ reason: e.reason });
        log.warn(
          { event: e.type, file: e.file, reason: e.reason, bytes: e.bytes },
          "gap record published",
        );
        return;
      case "checkpoint-published":
        log.debug({ event: e.type, size: e.size }, "checkpoint published");
        return;
      case "backpressure":
        m.backpressure.set(e.paused ? 1 : 0);
        log.info(
          { event: e.type, paused: e.paused, reason: e.reason },
          e.paused ? "reading paused" : "reading resumed",
        );
        return;
      case "config-reloaded":
        m.reloads.inc({ result: "applied" });
        log.info({ event: e.type, generation: e.generation }, "config reloaded");
        return;
      case "config-rejected":
        m.reloads.inc({ result: "rejected" });
        m.errors.inc({ kind: e.error.kind });
        log.error(
          { event: e.type, ...errorFields(e.error) },
          "new config rejected; the running one stays",
        );
        return;
      case "state-failed":
        m.errors.inc({ kind: e.error.kind });
        log.error({ event: e.type, ...errorFields(e.error) }, "state not saved");
        return;
      case "state-missing":
        log.warn({ event: e.type, path: e.path }, "no saved state: a new, unlinked epoch starts");
        return;
      case "state-invalid":
        m.errors.inc({ kind: "state" });
        log.warn(
          { event: e.type, origin: e.origin, reason: e.reason },
          "the saved state of this stream is unusable: starting a new, unlinked tree",
        );
        return;
      case "state-uncertain":
        log.warn(
          { event: e.type, origin: e.origin },
          "a checkpoint may be in the store beyond the saved state: starting a new, unlinked tree",
        );
        return;
      case "started":
        log.info(
          {
            event: e.type,
            version: e.version,
            origin: e.origin,
            sink: e.sink,
            resumedFiles: e.resumedFiles,
          },
          "sidecar started",
        );
        return;
      case "stopping":
        log.info({ event: e.type, signal: e.signal }, "stopping: draining files and the sink");
        return;
      case "stopped":
        log.info({ event: e.type, drained: e.drained }, "stopped");
        return;
    }
  }
}

/** What is logged of an error: never its cause, which may hold a client's options. */
function errorFields(error: SidecarError) {
  return { kind: error.kind, retriable: error.retriable, error: error.message };
}
