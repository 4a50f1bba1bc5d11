// One audited stream: the files of one source (an app container's log paths) turned into
// sealed records. Tail events go through the normalizer (lines) or straight to the sealer
// (losses become signed `gap` records); what the sealer emits is handed on with, on each
// checkpoint, the commit points and the stream state that become true once that checkpoint is
// acknowledged. So positions and stream state only ever advance to a sealed, acknowledged point.

import type { Normalizer } from "../entry/normalize/normalizer.ts";
import type { Emitted, GapInfo, StreamSealer, StreamState } from "../entry/seal.ts";
import type { SidecarEvent } from "./ops/events.ts";
import type { CommitPoint } from "./state/positions.ts";
import type { TailEvent } from "./tail/events.ts";

export interface Sealed {
  /** What becomes true when this message is acknowledged (checkpoints only). */
  commit?: { points: CommitPoint[]; origin: string; state: StreamState };
}

/** The meta of every leaf (nothing to commit): one shared object, not one per record. */
const LEAF: Sealed = Object.freeze({});

export class AuditStream {
  readonly origin: string;
  private normalize: Normalizer;
  private readonly sealer: StreamSealer;
  private readonly emit: (e: Emitted, meta: Sealed) => void;
  /** The latest processed point per file since the stream started. */
  private readonly progress = new Map<string, CommitPoint>();
  private readonly observe: (e: SidecarEvent) => void;
  lastCheckpointAt: number | undefined;

  constructor(
    sealer: StreamSealer,
    normalize: Normalizer,
    emit: (e: Emitted, meta: Sealed) => void,
    observe: (e: SidecarEvent) => void,
  ) {
    this.observe = observe;
    this.origin = sealer.origin;
    this.sealer = sealer;
    this.normalize = normalize;
    this.emit = emit;
  }

  setNormalizer(normalize: Normalizer): void {
    this.normalize = normalize;
  }

  /** Publishes what the sealer emitted when it opened the epoch (epoch-start + checkpoint). */
  opened(out: Emitted[]): void {
    this.forward(out);
  }

  take(events: TailEvent[]): void {
    for (const e of events) {
      if (e.kind === "line") {
        const source = e.truncated
          ? {
              file: e.file,
              offset: e.offset,
              fullLength: e.fullLength,
              fullHash: (e.fullSha256 as Buffer).toString("hex"),
            }
          : { file: e.file, offset: e.offset };
        const n = this.normalize(e.bytes, source);
        // The line itself is its commit point (kind, source, endOffset): no object per line.
        this.progress.set(e.source.key, e);
        if (n.kind === "excluded") {
          this.observe({ type: "records-excluded", records: 1 });
          continue;
        }
        if (n.event.violations.length > 0) this.observe({ type: "records-violated", records: 1 });
        this.forward(this.sealer.appendLog(n.event));
      } else if (e.kind === "loss") {
        const gap: GapInfo = {
          reason: e.reason,
          file: e.file,
          lostFrom: e.lostFrom,
          lostTo: e.lostTo,
        };
        this.progress.set(e.source.key, { kind: "loss", source: e.source, resumeAt: e.resumeAt });
        this.observe({
          type: "gap-published",
          file: e.file,
          reason: e.reason,
          bytes: e.lostTo - e.lostFrom,
        });
        this.forward(this.sealer.appendGap(gap));
      } else {
        this.progress.set(e.source.key, { kind: "end", source: e.source });
      }
    }
  }

  /** Seals by age, heartbeats when idle. */
  tick(): void {
    this.forward(this.sealer.tick());
  }

  /** Ends the epoch: everything read so far is sealed by the final checkpoint. */
  end(reason: string): void {
    this.forward(this.sealer.end(reason));
  }

  private forward(out: Emitted[]): void {
    for (const e of out) {
      if (e.kind !== "checkpoint") {
        this.emit(e, LEAF);
        continue;
      }
      // A line is its own commit point until here; the checkpoint gets a copy without the
      // line's bytes, which would keep its whole read buffer alive until the ack.
      const points: CommitPoint[] = [];
      for (const p of this.progress.values()) {
        points.push(
          p.kind === "line" ? { kind: "line", source: p.source, endOffset: p.endOffset } : p,
        );
      }
      // A file's end is committed once; its key may later name another file (inode reuse).
      for (const [key, p] of this.progress) {
        if (p.kind === "end" || (p.kind === "loss" && p.resumeAt === null)) {
          this.progress.delete(key);
        }
      }
      this.lastCheckpointAt = Date.now();
      this.emit(e, { commit: { points, origin: this.origin, state: this.sealer.state() } });
    }
  }
}
