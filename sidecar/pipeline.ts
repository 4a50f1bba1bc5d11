// Wires the stages for a config: per source, tail -> normalize -> seal (AuditStream); one
// outbox batching into one sink (Kafka behind the spool, or the local ledger). Positions and
// stream states are written to the state file only when the checkpoint that covers them is
// acknowledged. stop() drains: every file read to its end, partial lines flushed, `epoch-end`
// and a final checkpoint published, within the grace period.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { keyCertMessage } from "../entry/cert.ts";
import { generateSigningKey, type SigningKey } from "../entry/keys.ts";
import { createNormalizer } from "../entry/normalize/normalizer.ts";
import type { Emitted, StreamState } from "../entry/seal.ts";
import { StreamSealer } from "../entry/seal.ts";
import { sleep } from "./backoff.ts";
import { type Certifier, type CertifyStream, certifierFor } from "./certify/certifier.ts";
import { CertKeeper } from "./certify/keeper.ts";
import { originOf, type PodIdentity } from "./config/identity.ts";
import type { SidecarConfig } from "./config/schema.ts";
import { messageOf, SidecarError } from "./errors.ts";
import type { Events } from "./ops/events.ts";
import type { Readiness } from "./ops/server.ts";
import { KafkaSink } from "./sink/kafka.ts";
import { LedgerSink } from "./sink/ledger.ts";
import { Outbox } from "./sink/outbox.ts";
import type { Sink } from "./sink/sink.ts";
import { SpoolQueue } from "./spool/queue.ts";
import { SpoolingSink } from "./spool/spooling-sink.ts";
import { IntentNotes, readIntent, uncertain } from "./state/intent.ts";
import { Positions } from "./state/positions.ts";
import { STATE_VERSION, type StateDocument } from "./state/schema.ts";
import { loadState, StateStore } from "./state/store.ts";
import { AuditStream, type Sealed } from "./stream.ts";
import { matcher } from "./tail/glob.ts";
import { Tailer } from "./tail/tailer.ts";

export class Pipeline {
  private config: SidecarConfig;
  /** The epoch key of every stream of this pipeline: made here, in memory, never saved. */
  private readonly epochKey: SigningKey = generateSigningKey();
  private readonly keeper: CertKeeper;
  private readonly identity: PodIdentity;
  private readonly events: Events;
  private readonly store: StateStore;
  private readonly positions: Positions;
  private readonly streamStates: Record<string, StreamState>;
  private readonly sink: Sink;
  private readonly outbox: Outbox<Sealed>;
  private readonly streams: AuditStream[] = [];
  private readonly tailers: Tailer[] = [];
  private tick: NodeJS.Timeout | undefined;
  private stopping = false;
  private lastAckedCheckpoint: number | undefined;
  private lastSinkError: SidecarError | undefined;
  private intent: IntentNotes | undefined;
  /** The newest state save in flight (saves run beside publishing, not in front of it). */
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    config: SidecarConfig,
    identity: PodIdentity,
    events: Events,
    loaded: StateDocument,
    sink: Sink,
    certifier: Certifier,
  ) {
    this.config = config;
    this.identity = identity;
    this.events = events;
    this.store = new StateStore(config.stateDir);
    const patterns = config.sources.flatMap((s) => s.paths);
    const ours = matcher(patterns);
    this.positions = new Positions(loaded.files.filter((f) => ours(f.path)));
    this.streamStates = { ...((loaded.stream?.streams ?? {}) as Record<string, StreamState>) };
    this.sink = sink;
    this.keeper = new CertKeeper({
      key: this.epochKey,
      certifier,
      publish: (certs) => {
        for (const cert of certs) this.outbox.add(keyCertMessage(cert), CERT_META);
      },
      observe: (o) => this.events.emit(o),
    });
    const batch = config.sink.kafka?.batch ?? {
      maxRecords: 2_000,
      maxBytes: 1_048_576,
      lingerMs: 20,
    };
    this.outbox = new Outbox<Sealed>({
      sink: this.keeper.gate(sink),
      ...batch,
      highWaterBytes: 2 * batch.maxBytes,
      onAck: async (metas, ack) => {
        this.lastSinkError = undefined;
        this.events.emit({
          type: "records-published",
          records: metas.length,
          bytes: ack.bytes,
          where: ack.where,
        });
        this.acknowledged(metas);
      },
      // The notes were started when the checkpoints were emitted; wait for what is not on disk.
      beforePublish: async (metas) => {
        if (metas.some((m) => m.commit)) await this.intent?.durable();
      },
      onPressure: (paused) => {
        for (const t of this.tailers) paused ? t.pause() : t.resume();
        this.events.emit({ type: "backpressure", paused, reason: "unacknowledged bytes" });
      },
      onRetry: (error) => {
        this.lastSinkError = error;
        this.events.emit({ type: "sink-failed", sink: sink.name, error, spooling: false });
      },
    });
  }

  static async start(
    config: SidecarConfig,
    identity: PodIdentity,
    events: Events,
  ): Promise<Pipeline> {
    await mkdir(config.stateDir, { recursive: true });
    const loaded = await loadState(config.stateDir);
    if (!loaded.existed) events.emit({ type: "state-missing", path: config.stateDir });
    const certifier = await certifierFor(config, identity);
    const sink = await openSink(config, events);
    const p = new Pipeline(config, identity, events, loaded.document, sink, certifier);
    await p.open(loaded.document);
    return p;
  }

  private async open(loaded: StateDocument): Promise<void> {
    const c = this.config;
    const certifying: CertifyStream[] = [];
    const intent = new IntentNotes(c.stateDir, await readIntent(c.stateDir));
    this.intent = intent;
    const seal = {
      entries: c.signing.mode === "entry" ? 1 : c.signing.sealEvery.entries,
      millis: c.signing.sealEvery.millis,
      heartbeatMs: c.signing.heartbeatSeconds * 1_000,
    };
    for (const source of c.sources) {
      const origin = originOf(this.identity, source.container, source.paths[0] as string);
      let saved = this.streamStates[origin] ?? null;
      if (uncertain(intent.current, origin, saved)) {
        this.events.emit({ type: "state-uncertain", origin });
        saved = null;
      }
      const sealerOptions = { origin, key: this.epochKey, seal, now: Date.now };
      let opened: ReturnType<typeof StreamSealer.open>;
      try {
        opened = StreamSealer.open(sealerOptions, saved);
      } catch (err) {
        // A saved stream state the sealer refuses (hand-edited, or from a bug) must not stop
        // the sidecar: say so, and start a new tree the verifier reports as unlinked.
        if (saved === null) throw err;
        this.events.emit({ type: "state-invalid", origin, reason: messageOf(err) });
        opened = StreamSealer.open(sealerOptions, null);
      }
      const { sealer, out } = opened;
      certifying.push({ origin, epoch: sealer.epoch, container: source.container });
      const stream = new AuditStream(
        sealer,
        createNormalizer(c.normalize, this.k8s(source.container)),
        (e: Emitted, meta: Sealed) => {
          if (meta.commit) {
            const { epoch, range } = meta.commit.state;
            intent.note(meta.commit.origin, epoch, range.size);
          }
          this.outbox.add(e, meta); // the sealer's object is the message (key, value)
        },
        (e) => this.events.emit(e),
      );
      stream.opened(out);
      const mine = matcher(source.paths);
      const tailer = new Tailer({
        patterns: source.paths,
        maxLineBytes: c.tail.maxLineBytes,
        partialLineFlushMs: c.tail.partialLineFlushMs,
        pollMs: c.tail.pollMs,
        rotateWaitMs: c.tail.rotateWaitMs,
        positions: loaded.files.filter((f) => mine(f.path)),
        deliver: (events) => stream.take(events),
        observe: (o) => this.events.emit(o),
      });
      this.streams.push(stream);
      this.tailers.push(tailer);
      await tailer.start();
      this.events.emit({
        type: "started",
        version: "0.1.0",
        origin,
        sink: this.sink.name,
        resumedFiles: loaded.files.filter((f) => mine(f.path)).length,
      });
    }
    this.keeper.start(certifying);
    const every = Math.max(10, Math.min(100, Math.floor(seal.millis / 2)));
    this.tick = setInterval(() => {
      for (const s of this.streams) s.tick();
    }, every);
    this.events.setGauges({
      lag: () =>
        this.tailers
          .flatMap((t) => t.status())
          .map((s) => ({ file: s.file, bytes: Math.max(0, s.size - s.position) })),
      lastCheckpointAt: () => this.lastAckedCheckpoint,
      spoolBytes: () => (this.sink instanceof SpoolingSink ? this.sink.status().spoolBytes : 0),
    });
  }

  /**
   * Applies a config that differs only in `normalize` and `policy` (its generation is in every
   * record) to the running streams; positions and epochs go on untouched.
   */
  applyInPlace(next: SidecarConfig): void {
    this.config = next;
    for (const [i, s] of this.streams.entries()) {
      const container = next.sources[i]?.container ?? "";
      s.setNormalizer(createNormalizer(next.normalize, this.k8s(container)));
    }
  }

  readiness(): Readiness {
    const reasons: string[] = [];
    if (this.stopping) reasons.push("stopping");
    const held = this.keeper.holdReason();
    if (held) reasons.push(held);
    for (const t of this.tailers)
      for (const u of t.unreadableFiles())
        reasons.push(
          `log file not readable: ${u.file} (${u.code}); the app must write it group-readable on the pod's fsGroup`,
        );
    const err =
      this.sink instanceof SpoolingSink ? this.sink.status().lastError : this.lastSinkError;
    if (this.sink instanceof SpoolingSink && this.sink.status().full)
      reasons.push("spool full: reading paused");
    if (err && !err.retriable) reasons.push(`sink ${err.kind}: ${err.message}`);
    if (!(this.sink instanceof SpoolingSink) && err)
      reasons.push(`sink ${err.kind}: ${err.message}`);
    return { ready: reasons.length === 0, reasons };
  }

  /** Drains and ends the epoch; false when the grace period ran out first. */
  async stop(reason: string, graceMs: number): Promise<boolean> {
    this.stopping = true;
    clearInterval(this.tick);
    const deadline = Date.now() + graceMs;
    const left = () => Math.max(0, deadline - Date.now());
    const timers = new AbortController(); // so a finished drain leaves no timer behind
    const within = <T>(p: Promise<T>) =>
      Promise.race([p.then(() => true), sleep(left(), timers.signal).then(() => false)]);
    let drained = await within(Promise.all(this.tailers.map((t) => t.drain())));
    for (const s of this.streams) s.end(reason);
    drained = (await within(this.outbox.flush())) && drained;
    await this.saving;
    timers.abort();
    if (!drained) this.outbox.abort();
    await this.keeper.stop();
    await Promise.all(this.tailers.map((t) => t.stop()));
    await this.sink.close();
    return drained;
  }

  private acknowledged(metas: Sealed[]): void {
    let changed = false;
    for (const m of metas) {
      if (!m.commit) continue;
      for (const p of m.commit.points) this.positions.commit(p);
      this.streamStates[m.commit.origin] = m.commit.state;
      changed = true;
    }
    if (!changed) return;
    this.lastAckedCheckpoint = Date.now();
    // Not awaited: the next batch goes out while this one's state is fsynced (the store
    // coalesces saves and never goes backwards); stop() waits for the last one.
    this.saving = this.store
      .save({
        version: STATE_VERSION,
        savedAt: new Date().toISOString(),
        files: this.positions.snapshot(),
        stream: { streams: { ...this.streamStates } },
      })
      .catch((err) => {
        const error =
          err instanceof SidecarError
            ? err
            : new SidecarError("state", messageOf(err), { retriable: true });
        this.events.emit({ type: "state-failed", error });
      });
  }

  private k8s(container: string) {
    const id = this.identity;
    return {
      cluster: id.cluster,
      namespace: id.namespace,
      pod: id.pod,
      podUid: id.podUid,
      container,
      node: id.node,
      serviceAccount: id.serviceAccount,
      policy: this.config.policy.name,
      policyGeneration: this.config.policy.generation,
    };
  }
}

/** A key-cert message commits nothing: its ack moves no position. */
const CERT_META: Sealed = Object.freeze({});

async function openSink(config: SidecarConfig, events: Events): Promise<Sink> {
  const kafka = config.sink.kafka;
  if (!kafka) return new LedgerSink((config.sink.ledger as { path: string }).path);
  const inner = new KafkaSink(kafka, {
    log: (_level, message) => events.logger.debug({ event: "kafkajs" }, message),
  });
  const queue = await SpoolQueue.open(
    config.spool.dir ?? join(config.stateDir, "spool"),
    config.spool.maxBytes,
  );
  return new SpoolingSink(inner, queue, { observe: (o) => events.emit(o) });
}
