// Acknowledged read positions, per file. The pipeline calls commit() only when the sink has
// acknowledged everything up to a point (a line's end, a loss, a file's end); the tailer never
// writes here. snapshot() is what goes into the state file, so a restart resumes exactly after
// the last acknowledged line: nothing acknowledged is read twice by design, nothing
// unacknowledged is skipped.
import type { SourceFile } from "../tail/events.ts";
import type { FilePosition } from "./schema.ts";

/** What an acknowledgement commits: a line's end, a loss (and where reading resumed), a file's end. */
export type CommitPoint =
  | { kind: "line"; source: SourceFile; endOffset: number }
  | { kind: "loss"; source: SourceFile; resumeAt: number | null }
  | { kind: "end"; source: SourceFile };

interface Entry {
  source: SourceFile;
  offset: number;
}

export class Positions {
  private readonly entries = new Map<string, Entry>();
  private readonly restored = new Map<string, FilePosition>();

  constructor(saved: readonly FilePosition[] = []) {
    // Until a file is acknowledged again, its saved position stays what the state says.
    for (const p of saved) this.restored.set(`${p.dev}:${p.ino}`, p);
  }

  /** Marks `event` (and so everything before it in its file) as acknowledged. */
  commit(event: CommitPoint): void {
    const key = event.source.key;
    if (event.kind === "line") {
      this.set(key, event.source, event.endOffset);
    } else if (event.kind === "loss" && event.resumeAt !== null) {
      this.set(key, event.source, event.resumeAt);
    } else {
      // A file's end, or a loss of a file that is gone: nothing left to resume.
      const current = this.entries.get(key);
      if (!current || current.source.generation <= event.source.generation) {
        this.entries.delete(key);
        this.restored.delete(key);
      }
    }
  }

  snapshot(): FilePosition[] {
    const out: FilePosition[] = [...this.restored.values()];
    for (const { source, offset } of this.entries.values()) {
      out.push({
        path: source.path,
        dev: source.dev,
        ino: source.ino,
        fpLen: source.fpLen,
        fpHash: source.fpHash,
        generation: source.generation,
        offset,
        seenSize: Math.max(source.seenSize, offset),
      });
    }
    return out;
  }

  private set(key: string, source: SourceFile, offset: number): void {
    const current = this.entries.get(key);
    // Acknowledgements come in order; a later generation of the same inode replaces an earlier.
    if (current && current.source.generation > source.generation) return;
    this.entries.set(key, { source, offset });
    this.restored.delete(key);
  }
}
