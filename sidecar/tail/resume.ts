// Resuming from saved positions: what a restart reports for a file that is gone or changed,
// and where a file renamed while the sidecar was down is found again (same dev, inode and
// fingerprint, in the directory it was in).
import { open, readdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { FilePosition } from "../state/schema.ts";
import type { LossEvent, SourceFile } from "./events.ts";
import { fingerprint } from "./file.ts";

export function lossOf(
  saved: FilePosition,
  reason: LossEvent["reason"],
  source: SourceFile,
  resumeAt: number | null,
): LossEvent {
  return {
    kind: "loss",
    file: saved.path,
    inode: saved.ino,
    reason,
    lostFrom: saved.offset,
    lostTo: Math.max(saved.seenSize, saved.offset),
    source,
    resumeAt,
  };
}

/** The file in `dir` with the saved identity and content, still at least as long as read. */
export async function findByIdentity(
  dir: string,
  saved: FilePosition,
): Promise<string | undefined> {
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const st = await stat(path, { bigint: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined; // removed while listing
      throw err;
    });
    if (!st?.isFile() || String(st.dev) !== saved.dev || String(st.ino) !== saved.ino) continue;
    if (Number(st.size) < saved.offset) return undefined;
    const fh = await open(path, "r");
    try {
      const fp = saved.fpLen === 0 ? undefined : await fingerprint(fh, saved.fpLen);
      return saved.fpLen === 0 || fp?.fpHash === saved.fpHash ? path : undefined;
    } finally {
      await fh.close();
    }
  }
  return undefined;
}

/** The generation a saved position names, for a file no longer there. */
export function sourceOf(saved: FilePosition): SourceFile {
  return {
    key: `${saved.dev}:${saved.ino}`,
    dev: saved.dev,
    ino: saved.ino,
    generation: saved.generation,
    path: saved.path,
    fpLen: saved.fpLen,
    fpHash: saved.fpHash,
    seenSize: saved.seenSize,
  };
}

/**
 * copytruncate copies the file, then truncates it: the copy (in the same directory, under
 * another name) holds the bytes the reader had not reached yet. Found by its first bytes.
 */
export async function findCopy(source: SourceFile, position: number): Promise<string | undefined> {
  const dir = dirname(source.path);
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const st = await stat(path, { bigint: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    if (!st?.isFile() || String(st.ino) === source.ino || Number(st.size) < position) continue;
    const fh = await open(path, "r");
    try {
      if ((await fingerprint(fh, source.fpLen))?.fpHash === source.fpHash) return path;
    } finally {
      await fh.close();
    }
  }
  return undefined;
}
