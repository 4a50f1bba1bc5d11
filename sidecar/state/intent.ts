// Write-ahead note of the newest checkpoint handed to the sink, per stream. The state file is
// saved after the sink acknowledged a checkpoint, so a crash in between leaves a checkpoint in
// the store that the state does not know; continuing the tree from the older state would fork
// it (the verifier's INCONSISTENT_CHECKPOINT). With this note a restart sees that it cannot
// know where the store ends and starts a new, unlinked tree instead: a warning, not an error.
// The note is written when the sealer emits a checkpoint, so the write (two fsyncs) overlaps
// the linger and the batch before it; publishing waits only for what is not yet durable.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "./atomic.ts";

export const INTENT_FILE = "checkpoint-intent.json";

export const CheckpointIntent = z.record(
  z.string(),
  z.object({ epoch: z.number().int().min(0), size: z.number().int().min(0) }).strict(),
);
export type CheckpointIntent = z.infer<typeof CheckpointIntent>;

export async function readIntent(stateDir: string): Promise<CheckpointIntent> {
  try {
    return CheckpointIntent.parse(JSON.parse(await readFile(join(stateDir, INTENT_FILE), "utf8")));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    // An unreadable note is itself uncertainty: every stream starts unlinked.
    return { "*": { epoch: Number.MAX_SAFE_INTEGER, size: 0 } };
  }
}

export function writeIntent(stateDir: string, intent: CheckpointIntent): Promise<void> {
  return writeFileAtomic(join(stateDir, INTENT_FILE), JSON.stringify(intent));
}

/** true when the saved stream state may be older than a checkpoint already in the store. */
export function uncertain(
  intent: CheckpointIntent,
  origin: string,
  saved: { epoch: number; range: { size: number } } | null,
): boolean {
  const note = intent[origin] ?? intent["*"];
  if (!note) return false;
  if (!saved) return true;
  return note.epoch > saved.epoch || (note.epoch === saved.epoch && note.size > saved.range.size);
}

/**
 * The notes of one pipeline: note() records a checkpoint as it is emitted and starts writing;
 * durable() resolves once every note made so far is on disk (and retries a failed write).
 * Writes are coalesced: at most one runs, and it writes the newest notes.
 */
export class IntentNotes {
  private readonly stateDir: string;
  private readonly notes: CheckpointIntent;
  private version = 0;
  private written = 0;
  private writing: Promise<void> | undefined;

  constructor(stateDir: string, loaded: CheckpointIntent) {
    this.stateDir = stateDir;
    this.notes = { ...loaded };
  }

  /** What was read at start (which streams' saved state is uncertain). */
  get current(): CheckpointIntent {
    return this.notes;
  }

  note(origin: string, epoch: number, size: number): void {
    this.notes[origin] = { epoch, size };
    // Once a note is written, an unreadable older one no longer stands for every stream.
    delete this.notes["*"];
    this.version++;
    // A failure surfaces (and is retried) through durable(), before the checkpoint is sent.
    this.durable().catch(() => undefined);
  }

  durable(): Promise<void> {
    if (this.written >= this.version) return Promise.resolve();
    this.writing ??= this.write().finally(() => {
      this.writing = undefined;
    });
    return this.writing;
  }

  private async write(): Promise<void> {
    while (this.written < this.version) {
      const version = this.version;
      await writeIntent(this.stateDir, { ...this.notes });
      this.written = version;
    }
  }
}
