// Crash-safe replacement of a small file: write a temp file beside it, fsync it, rename it over
// the target, fsync the directory. After a crash at any point the target holds either the old
// or the new bytes in full, never a mix; a leftover temp file is ignored and cleaned up.
import { open, readdir, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined); // best effort: the rename error is what matters
    throw err;
  }
  await syncDir(dir);
}

export async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, "r");
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** Removes temp files an interrupted writeFileAtomic(path) left behind. */
export async function removeStaleTemps(path: string): Promise<number> {
  const prefix = `.${basename(path)}.`;
  let removed = 0;
  for (const name of await readdir(dirname(path))) {
    if (name.startsWith(prefix) && name.endsWith(".tmp")) {
      await unlink(join(dirname(path), name));
      removed++;
    }
  }
  return removed;
}
