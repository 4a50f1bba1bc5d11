// Tails every file matching a set of glob patterns. chokidar discovers files and wakes the
// reader on writes; reading goes through plain fds, with a poll as a safety net for missed
// notifications. Files are known by identity (dev + inode, checked with a fingerprint of their
// first bytes), never by path, so:
// - rename rotation: the old fd is read to its end (and closed after rotateWaitMs of quiet)
//   while the new file at the path is read from its beginning;
// - copytruncate: a shrink (or a changed fingerprint) is a loss event plus a new generation;
// - restart: reading resumes at the acknowledged offset of each file; a file that was renamed
//   meanwhile is found in its directory and finished; one that is gone, or whose inode now
//   holds other content, is reported as a loss of what was left unread.
// A watched directory that does not exist yet is looked for at every poll and watched once it
// appears: kubelet creates an app container's subPath directory on the log volume only when it
// prepares that container, after a native sidecar has started (chokidar never notices a watched
// root that appears later).
// A matching file the sidecar may not open (EACCES, EPERM) is never silent: it is reported once
// (an observation that makes the sidecar not ready, and a loss of what the file held, which
// becomes a signed gap), looked at again at every poll, and read from its start once it can be.
// Delivery is in file order through one callback; pause() stops reading (backpressure).
import { glob, open, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { type FSWatcher, watch } from "chokidar";
import { messageOf, SidecarError } from "../errors.ts";
import type { FilePosition } from "../state/schema.ts";
import type { FileEndEvent, SourceFile, TailEvent } from "./events.ts";
import { EMPTY_SHA256, FINGERPRINT_BYTES, fingerprint, TailedFile } from "./file.ts";
import { depthOf, matcher, watchRoot } from "./glob.ts";
import { observeEvents, type TailObservation } from "./observe.ts";
import { findByIdentity, findCopy, lossOf, sourceOf } from "./resume.ts";

export type { TailObservation } from "./observe.ts";

export interface TailOptions {
  patterns: readonly string[];
  /** Longer lines are delivered truncated (and flagged). */
  maxLineBytes: number;
  /** An unfinished last line is delivered after this long without new bytes. */
  partialLineFlushMs: number;
  /** Safety-net poll; also how often fingerprints are re-checked. */
  pollMs: number;
  /** A rotated file is closed after it has been quiet at its end this long. */
  rotateWaitMs: number;
  /** Where reading resumes: acknowledged positions from the state file. */
  positions: readonly FilePosition[];
  deliver(events: TailEvent[]): void;
  observe?(o: TailObservation): void;
  readChunkBytes?: number;
  /** Bytes read per file per cycle before others get a turn. */
  cycleBudgetBytes?: number;
  /**
   * After a cycle that read data, look again this soon: a file being written is followed
   * closely (chokidar reports changes at most every 50 ms); a quiet one costs nothing.
   */
  followMs?: number;
}

export interface TailedFileStatus {
  file: string;
  inode: string;
  generation: number;
  position: number;
  size: number;
  rotated: boolean;
}

export class Tailer {
  private readonly opts: TailOptions;
  private readonly matches: (path: string) => boolean;
  private readonly files = new Map<string, TailedFile>();
  /** Saved positions not yet matched to a file, by `<dev>:<ino>`. */
  private readonly unmatched = new Map<string, FilePosition>();
  private readonly dirty = new Set<string>();
  /** Matching files that could not be opened, by path: the error code. */
  private readonly unreadable = new Map<string, string>();
  private watcher: FSWatcher | undefined;
  /** Watch roots that did not exist yet, looked for at every poll. */
  private readonly missingRoots = new Set<string>();
  /** Roots that just appeared: globbed once more at the next poll, in case a file came before
   * the watcher was ready on them. */
  private readonly newRoots = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private follow: NodeJS.Timeout | undefined;
  private cycling: Promise<void> | undefined;
  private again = false;
  private pollDue = false;
  private flushAll = false;
  private paused = false;
  private stopped = false;

  constructor(opts: TailOptions) {
    this.opts = opts;
    this.matches = matcher(opts.patterns);
    for (const p of opts.positions) this.unmatched.set(`${p.dev}:${p.ino}`, p);
  }

  async start(): Promise<void> {
    const roots = new Map(this.opts.patterns.map((p) => [watchRoot(p).dir, watchRoot(p)]));
    const present: string[] = [];
    for (const dir of roots.keys()) {
      if (await isDirectory(dir)) present.push(dir);
      else this.missingRoots.add(dir);
    }
    const watcher = watch(present, {
      ignoreInitial: true,
      atomic: false,
      followSymlinks: true,
      ignored: (p, st) => st?.isFile() === true && !this.matches(p),
      ...depthOf([...roots.values()]),
    });
    this.watcher = watcher;
    for (const ev of ["add", "change", "unlink"] as const) {
      watcher.on(ev, (path: string) => {
        if (this.matches(path)) {
          this.dirty.add(path);
          this.wake();
        }
      });
    }
    watcher.on("error", (err) => this.failed("(watcher)", err));
    await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
    const found = await this.globFiles(this.opts.patterns);
    // Files renamed away while we were down hold older lines: finish them first.
    await this.finishUnmatched(new Set(found.keys()));
    for (const path of found.values()) await this.guard(path, () => this.examine(path));
    this.timer = setInterval(() => {
      this.pollDue = true;
      this.wake();
    }, this.opts.pollMs);
    this.wake();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.wake();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Reads every file to its current end and delivers held partial lines (for shutdown). */
  async drain(): Promise<void> {
    this.flushAll = true;
    this.pollDue = true;
    this.wake();
    while (this.cycling) await this.cycling;
  }

  status(): TailedFileStatus[] {
    return [...this.files.values()].map((f) => ({
      file: f.source.path,
      inode: f.source.ino,
      generation: f.source.generation,
      position: f.position,
      size: f.source.seenSize,
      rotated: f.rotated,
    }));
  }

  /** Matching files the sidecar is not allowed to read, for readiness. */
  unreadableFiles(): { file: string; code: string }[] {
    return [...this.unreadable].map(([file, code]) => ({ file, code }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.follow);
    await this.watcher?.close();
    while (this.cycling) await this.cycling;
    await Promise.all([...this.files.values()].map((f) => f.fh.close()));
    this.files.clear();
  }

  private wake(): void {
    if (this.stopped) return;
    if (this.cycling) {
      this.again = true;
      return;
    }
    this.cycling = this.loop();
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        await this.cycle();
      } while (this.again && !this.stopped);
    } finally {
      this.cycling = undefined;
    }
  }

  /** Files matching the patterns now, by `<dev>:<ino>`. */
  private async globFiles(patterns: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (const pattern of patterns) {
      for await (const path of glob(pattern)) {
        const st = await stat(path, { bigint: true }).catch(() => undefined);
        if (st?.isFile()) found.set(`${st.dev}:${st.ino}`, path);
      }
    }
    return found;
  }

  /** Starts watching roots that have appeared, and takes in the files already in them. */
  private async watchAppearedRoots(): Promise<string[]> {
    const look = [...this.newRoots];
    this.newRoots.clear();
    for (const dir of this.missingRoots) {
      if (!(await isDirectory(dir))) continue;
      this.missingRoots.delete(dir);
      this.newRoots.add(dir);
      this.watcher?.add(dir);
      look.push(dir);
    }
    const patterns = this.opts.patterns.filter((p) => look.includes(watchRoot(p).dir));
    return [...(await this.globFiles(patterns)).values()];
  }

  private async cycle(): Promise<void> {
    const deep = this.pollDue;
    this.pollDue = false;
    const paths = new Set(this.dirty);
    this.dirty.clear();
    if (deep && this.missingRoots.size + this.newRoots.size > 0) {
      for (const path of await this.watchAppearedRoots()) paths.add(path);
    }
    if (deep) {
      for (const f of this.files.values()) paths.add(f.source.path);
      for (const path of this.unreadable.keys()) paths.add(path);
    }
    for (const path of paths) await this.guard(path, () => this.examine(path));

    const budget = this.opts.cycleBudgetBytes ?? 262_144;
    const chunk = this.opts.readChunkBytes ?? 65_536;
    const now = Date.now();
    let readSome = false;
    for (const f of [...this.files.values()]) {
      if (this.stopped) return;
      const out: TailEvent[] = [];
      await this.guard(f.source.path, async () => {
        if (!this.paused) {
          const read = await f.read(budget, chunk, (lines) => this.emitRead(lines));
          if (read >= budget) this.again = true;
          if (read > 0) readSome = true;
          if (f.eof) await f.checkTruncation(deep, out, findCopy);
        } else if (deep) {
          // Paused: still watch sizes (lag, and how much a truncation now would lose).
          await f.checkTruncation(false, out);
        }
        const quiet = now - f.lastDataAt;
        if (
          f.eof &&
          f.pendingBytes > 0 &&
          (this.flushAll || quiet >= this.opts.partialLineFlushMs)
        ) {
          f.flush(out);
        }
        if (f.eof && f.rotated && (this.flushAll || quiet >= this.opts.rotateWaitMs)) {
          f.flush(out);
          out.push(this.close(f));
        }
      });
      this.emit(out);
    }
    if (this.flushAll && !this.again) this.flushAll = false;
    if (readSome && !this.again && !this.paused) {
      this.follow ??= setTimeout(() => {
        this.follow = undefined;
        this.wake();
      }, this.opts.followMs ?? 5);
    }
  }

  /** Looks at what is at `path` now and opens it if it is a file not yet tailed. */
  private async examine(path: string): Promise<void> {
    if (!this.matches(path)) return;
    const holder = [...this.files.values()].find((f) => f.source.path === path && !f.rotated);
    let key: string;
    try {
      const st = await stat(path, { bigint: true });
      if (!st.isFile()) return;
      key = `${st.dev}:${st.ino}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      if (holder) this.markRotated(holder);
      // An unreadable file that is gone no longer keeps the sidecar not ready; its gap stands.
      if (this.unreadable.delete(path))
        this.opts.observe?.({ type: "file-readable", file: path, how: "gone" });
      return;
    }
    const known = this.files.get(key);
    if (known) {
      if (known.source.path !== path && !known.rotated) known.source.path = path;
      return;
    }
    if (holder) this.markRotated(holder);
    await this.openFile(path, key, false);
  }

  private markRotated(f: TailedFile): void {
    if (f.rotated) return;
    f.rotated = true;
    f.lastDataAt = Date.now(); // rotateWaitMs counts from the rotation
    this.opts.observe?.({ type: "file-rotated", file: f.source.path, inode: f.source.ino });
  }

  private async openFile(path: string, key: string, rotated: boolean): Promise<void> {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(path, "r");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "EACCES" && code !== "EPERM") throw err;
      await this.markUnreadable(path, code);
      return;
    }
    if (this.unreadable.delete(path))
      this.opts.observe?.({ type: "file-readable", file: path, how: "readable" });
    let keep = false;
    try {
      const st = await fh.stat({ bigint: true });
      if (`${st.dev}:${st.ino}` !== key) {
        this.dirty.add(path); // replaced between stat and open: look again
        return;
      }
      const size = Number(st.size);
      const saved = this.unmatched.get(key);
      this.unmatched.delete(key);
      const out: TailEvent[] = [];
      const fp = await fingerprint(fh, Math.min(size, FINGERPRINT_BYTES));
      const fresh = (generation: number): SourceFile => ({
        key,
        dev: String(st.dev),
        ino: String(st.ino),
        generation,
        path,
        fpLen: fp?.fpLen ?? 0,
        fpHash: fp?.fpHash ?? EMPTY_SHA256,
        seenSize: size,
      });
      let source = fresh(0);
      let position = 0;
      if (saved) {
        const same =
          saved.fpLen === 0 || (await fingerprint(fh, saved.fpLen))?.fpHash === saved.fpHash;
        if (same && size >= saved.offset) {
          source = { ...fresh(saved.generation), seenSize: Math.max(size, saved.seenSize) };
          position = saved.offset;
        } else {
          // Shrunk below, or replaced under, the acknowledged offset while nobody watched:
          // reported even when the extent is unknown (lostTo = lostFrom), never silent.
          source = fresh(saved.generation + 1);
          const reason = size < saved.offset ? "truncated" : "inode-reused";
          out.push(lossOf(saved, reason, source, 0));
        }
      }
      const file = new TailedFile(fh, source, position, this.opts.maxLineBytes);
      file.rotated = rotated;
      this.files.set(key, file);
      keep = true;
      this.opts.observe?.({
        type: "file-opened",
        file: path,
        inode: source.ino,
        generation: source.generation,
        from: position,
      });
      this.emit(out);
    } finally {
      if (!keep) await fh.close();
    }
  }

  /**
   * A file it may not read: reported once per episode, with a loss of what it held then (the
   * extent known from stat, which needs no read permission), so the stream carries a signed gap.
   */
  private async markUnreadable(path: string, code: string): Promise<void> {
    if (this.unreadable.has(path)) return;
    this.unreadable.set(path, code);
    const st = await stat(path, { bigint: true });
    const size = Number(st.size);
    this.opts.observe?.({ type: "file-unreadable", file: path, code, bytes: size });
    const source: SourceFile = {
      key: `${st.dev}:${st.ino}`,
      dev: String(st.dev),
      ino: String(st.ino),
      generation: 0,
      path,
      fpLen: 0,
      fpHash: EMPTY_SHA256,
      seenSize: size,
    };
    this.emit([
      {
        kind: "loss",
        file: path,
        inode: source.ino,
        reason: "file-unreadable",
        lostFrom: 0,
        lostTo: size,
        source,
        resumeAt: null,
      },
    ]);
  }

  /**
   * Saved positions no file matched: the file was renamed to a name outside the patterns
   * (finish it from its directory) or it is gone (report what was left unread).
   */
  private async finishUnmatched(present: Set<string>): Promise<void> {
    for (const saved of [...this.unmatched.values()]) {
      const key = `${saved.dev}:${saved.ino}`;
      if (present.has(key)) continue; // still at a matching path: examine() resumes it
      const found = await this.guard(saved.path, () => findByIdentity(dirname(saved.path), saved));
      if (found && this.unmatched.has(key)) {
        await this.guard(found, () => this.openFile(found, key, true));
        if (this.files.has(key)) continue;
      }
      this.unmatched.delete(key);
      const gone = sourceOf(saved);
      if (saved.seenSize > saved.offset) {
        this.emit([lossOf(saved, "deleted-unread", gone, null)]);
      } else {
        const end: FileEndEvent = {
          kind: "end",
          file: saved.path,
          source: gone,
          endOffset: saved.offset,
          reason: "deleted",
        };
        this.emit([end]);
      }
    }
  }

  private close(f: TailedFile): FileEndEvent {
    this.files.delete(f.source.key);
    const reason = f.deleted ? "deleted" : "rotated";
    void f.fh.close();
    this.opts.observe?.({ type: "file-closed", file: f.source.path, inode: f.source.ino, reason });
    return { kind: "end", file: f.source.path, source: f.source, endOffset: f.position, reason };
  }

  private emit(events: TailEvent[]): void {
    if (events.length === 0) return;
    if (this.opts.observe) observeEvents(events, this.opts.observe);
    this.opts.deliver(events);
  }

  /**
   * Lines delivered while a file is being read: a failure downstream is not a tail error of
   * that file (guard() would report it and read on past the lines): it leaves the cycle, as a
   * failure of emit() does.
   */
  private emitRead(events: TailEvent[]): void {
    try {
      this.emit(events);
    } catch (err) {
      throw new DeliveryFailed(err);
    }
  }

  private async guard<T>(file: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof DeliveryFailed) throw err.cause;
      this.failed(file, err);
      return undefined;
    }
  }

  private failed(file: string, err: unknown): void {
    const error =
      err instanceof SidecarError
        ? err
        : new SidecarError("io", `tail ${file}: ${messageOf(err)}`, {
            retriable: true,
            cause: err,
          });
    this.opts.observe?.({ type: "tail-error", file, error });
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() === true;
}

class DeliveryFailed extends Error {
  constructor(cause: unknown) {
    super("delivery failed", { cause });
  }
}
