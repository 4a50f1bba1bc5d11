// The state file: loaded once at start (validated; a missing file is a fresh start, a corrupt
// or unknown one is an error, never silently reset) and saved atomically. Saves are coalesced:
// save() while a write runs schedules one more write of the newest document, so a burst of
// acknowledgements costs at most two fsyncs and the file never goes backwards.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { formatIssues } from "../config/load.ts";
import { messageOf, SidecarError } from "../errors.ts";
import { removeStaleTemps, writeFileAtomic } from "./atomic.ts";
import { emptyState, StateDocument } from "./schema.ts";

export const STATE_FILE = "state.json";

export interface LoadedState {
  document: StateDocument;
  /** false when no state file existed (first start, or the volume was wiped). */
  existed: boolean;
}

export async function loadState(stateDir: string): Promise<LoadedState> {
  const path = join(stateDir, STATE_FILE);
  await removeStaleTemps(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw stateError(path, "cannot clean temp files", err);
  });
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      return { document: emptyState(), existed: false };
    }
    throw stateError(path, "cannot read", err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw stateError(path, "not JSON", err);
  }
  const result = StateDocument.safeParse(json);
  if (!result.success) {
    throw stateError(path, formatIssues(result.error.issues), undefined);
  }
  return { document: result.data, existed: true };
}

export class StateStore {
  readonly path: string;
  private writing: Promise<void> | undefined;
  private next: StateDocument | undefined;
  private lastSaved: StateDocument | undefined;

  constructor(stateDir: string) {
    this.path = join(stateDir, STATE_FILE);
  }

  /** Saves `doc` (the newest wins); resolves when a write including it is on disk. */
  save(doc: StateDocument): Promise<void> {
    this.next = doc;
    // The loop in flush() picks up a document set while it writes, so this promise covers it.
    if (!this.writing) this.writing = this.flush();
    return this.writing;
  }

  get saved(): StateDocument | undefined {
    return this.lastSaved;
  }

  private async flush(): Promise<void> {
    try {
      while (this.next) {
        const doc = { ...this.next, savedAt: new Date().toISOString() };
        this.next = undefined;
        await writeFileAtomic(this.path, `${JSON.stringify(doc)}\n`);
        this.lastSaved = doc;
      }
    } catch (err) {
      throw stateError(this.path, "cannot write", err);
    } finally {
      this.writing = undefined;
    }
  }
}

function stateError(path: string, what: string, cause: unknown): SidecarError {
  const detail = cause === undefined ? "" : `: ${messageOf(cause)}`;
  return new SidecarError("state", `state ${path}: ${what}${detail}`, {
    retriable: false,
    cause,
  });
}
