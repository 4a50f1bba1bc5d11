// The tailer against real files under load: rename and copytruncate rotation at 10,000
// lines/s, resume from acknowledged positions across a restart, and the loss reports for data
// that truly cannot be read any more. "Exactly once" is checked by line number and by byte
// range: within each generation of each inode, line ranges are contiguous from the start.
import {
  closeSync,
  copyFileSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Positions } from "../../sidecar/state/positions.ts";
import type { FilePosition } from "../../sidecar/state/schema.ts";
import type { LossEvent, TailEvent, TailLine } from "../../sidecar/tail/events.ts";
import { Tailer } from "../../sidecar/tail/tailer.ts";

const PAD = "x".repeat(90);
const lineOf = (n: number) => `${n} GET /api/items/${n} 200 ${PAD}\n`;

function collector() {
  const events: TailEvent[] = [];
  const positions = new Positions();
  return {
    events,
    positions,
    deliver(batch: TailEvent[]) {
      for (const e of batch) {
        events.push(e);
        positions.commit(e); // acknowledged at once: these tests are about reading
      }
    },
    lines: () => events.filter((e): e is TailLine => e.kind === "line"),
    losses: () => events.filter((e): e is LossEvent => e.kind === "loss"),
  };
}

function startTailer(dir: string, c: ReturnType<typeof collector>, positions: FilePosition[] = []) {
  const tailer = new Tailer({
    patterns: [join(dir, "*.log")],
    maxLineBytes: 4_096,
    partialLineFlushMs: 300,
    pollMs: 50,
    rotateWaitMs: 300,
    positions,
    deliver: (b) => c.deliver(b),
  });
  return tailer;
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Writes `total` numbered lines at `perSecond`, in 10 ms steps, calling `between` after each. */
async function writeAtRate(
  total: number,
  perSecond: number,
  write: (n: number) => void,
  between: (written: number) => Promise<void>,
): Promise<void> {
  const perStep = Math.max(1, Math.round(perSecond / 100));
  const started = Date.now();
  for (let n = 0; n < total; ) {
    for (let i = 0; i < perStep && n < total; i++) write(n++);
    await between(n);
    const due = started + (n / perSecond) * 1_000;
    await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
  }
}

function numbersOf(lines: TailLine[]): number[] {
  return lines.map((l) => Number(l.bytes.toString().split(" ", 1)[0]));
}

function expectContiguousPerGeneration(lines: TailLine[]): void {
  const next = new Map<string, number>();
  for (const l of lines) {
    const id = `${l.source.key}#${l.source.generation}`;
    expect(l.offset, `${id} at ${l.offset}`).toBe(next.get(id) ?? 0);
    next.set(id, l.endOffset);
  }
}

describe("sidecar tailer", () => {
  it("tails a directory that appears after it started (kubelet makes an app's subPath late)", async () => {
    const volume = mkdtempSync(join(tmpdir(), "ar-tail-late-"));
    const dir = join(volume, "app"); // not there yet, as with a native sidecar
    const c = collector();
    const tailer = startTailer(dir, c);
    await tailer.start();
    try {
      await new Promise((r) => setTimeout(r, 120)); // a few polls with nothing there
      mkdirSync(dir);
      const fd = openSync(join(dir, "access.log"), "a");
      for (let n = 0; n < 100; n++) writeSync(fd, lineOf(n));
      await until("the first 100 lines", () => c.lines().length >= 100);
      for (let n = 100; n < 200; n++) writeSync(fd, lineOf(n));
      closeSync(fd);
      await until("all 200 lines", () => c.lines().length >= 200);
      expect(numbersOf(c.lines())).toEqual(Array.from({ length: 200 }, (_, n) => n));
      expectContiguousPerGeneration(c.lines());
    } finally {
      await tailer.stop();
    }
  });

  it("delivers every line exactly once through rename rotations at 10,000 lines/s", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ar-tail-rename-"));
    const path = join(dir, "access.log");
    const c = collector();
    const tailer = startTailer(dir, c);
    await tailer.start();
    let fd = openSync(path, "a");
    let rotations = 0;
    const total = 30_000;
    await writeAtRate(
      total,
      10_000,
      (n) => writeSync(fd, lineOf(n)),
      async (written) => {
        if (written % 5_000 === 0 && written < total) {
          // The app keeps writing to the renamed file for a moment before it reopens.
          renameSync(path, `${path}.${++rotations}`);
          for (let i = 0; i < 3; i++) writeSync(fd, lineOf(-1 - i - 3 * rotations));
          closeSync(fd);
          fd = openSync(path, "a");
        }
      },
    );
    closeSync(fd);
    const extra = 3 * rotations;
    await until("all lines", () => c.lines().length >= total + extra);
    await until("rotated files closed", () => tailer.status().length === 1);
    await tailer.stop();

    const numbers = numbersOf(c.lines());
    expect(numbers).toHaveLength(total + extra);
    expect(new Set(numbers).size).toBe(total + extra);
    expect(c.losses()).toEqual([]);
    expectContiguousPerGeneration(c.lines());
    expect(c.events.filter((e) => e.kind === "end")).toHaveLength(rotations);
  });

  it("delivers every line exactly once through copytruncate rotations at 10,000 lines/s", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ar-tail-copytruncate-"));
    const path = join(dir, "access.log");
    const c = collector();
    const tailer = startTailer(dir, c);
    await tailer.start();
    const fd = openSync(path, "a"); // O_APPEND, as apps that survive copytruncate write
    let rotations = 0;
    const total = 30_000;
    await writeAtRate(
      total,
      10_000,
      (n) => writeSync(fd, lineOf(n)),
      async (written) => {
        if (written % 5_000 === 0 && written < total) {
          // logrotate's copytruncate: copy, then truncate in place while the app writes on.
          const size = statSync(path).size;
          await until("the tailer to reach the copy point", () =>
            tailer.status().some((s) => s.position === size),
          );
          copyFileSync(path, `${path}.${++rotations}`);
          ftruncateSync(fd, 0);
        }
      },
    );
    closeSync(fd);
    await until("all lines", () => c.lines().length >= total);
    await tailer.stop();

    const numbers = numbersOf(c.lines());
    expect(numbers).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(c.losses()).toEqual([]);
    expectContiguousPerGeneration(c.lines());
    const generations = new Set(c.lines().map((l) => l.source.generation));
    expect(generations.size).toBe(rotations + 1);
  });

  it("finishes from copytruncate's copy what it had not read when the truncation came", async () => {
    // logrotate does not wait for readers: here the truncation follows the last write at once,
    // before the reader could see it. The copy holds those lines, and the reader takes them
    // from there (found by the file's first bytes): every line exactly once, in order.
    const dir = mkdtempSync(join(tmpdir(), "ar-tail-copytruncate-race-"));
    const path = join(dir, "access.log");
    const c = collector();
    const tailer = startTailer(dir, c);
    await tailer.start();
    const fd = openSync(path, "a");
    const total = 30_000;
    await writeAtRate(
      total,
      10_000,
      (n) => writeSync(fd, lineOf(n)),
      async (written) => {
        if (written % 2_500 === 0 && written < total) {
          copyFileSync(path, `${path}.${written}`);
          ftruncateSync(fd, 0);
        }
      },
    );
    closeSync(fd);
    await until("all lines", () => c.lines().length >= total);
    await tailer.stop();
    expect(numbersOf(c.lines())).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(c.losses()).toEqual([]);
    expectContiguousPerGeneration(c.lines());
  });

  it("reports exactly the unread range when a file is truncated while reading is paused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ar-tail-truncated-"));
    const path = join(dir, "access.log");
    const c = collector();
    const tailer = startTailer(dir, c);
    writeFileSync(path, "0 first\n1 second\n");
    await tailer.start();
    await until("the first lines", () => c.lines().length === 2);
    tailer.pause();
    const fd = openSync(path, "a");
    for (let n = 2; n < 100; n++) writeSync(fd, lineOf(n));
    const unread = statSync(path).size;
    await new Promise((r) => setTimeout(r, 200)); // a few polls see the new size
    ftruncateSync(fd, 0);
    writeSync(fd, "100 after\n");
    closeSync(fd);
    tailer.resume();
    await until("the line after the truncation", () => c.lines().length === 3);
    await tailer.stop();

    expect(c.losses()).toEqual([
      expect.objectContaining({ reason: "truncated", lostFrom: 17, lostTo: unread, resumeAt: 0 }),
    ]);
    expect(c.lines()[2]).toMatchObject({ offset: 0, endOffset: 10 });
    expect(c.lines()[2]?.source.generation).toBe(1);
  });

  it("resumes after a restart at the acknowledged offsets, finishing a file rotated meanwhile", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ar-tail-resume-"));
    const path = join(dir, "access.log");
    writeFileSync(path, Array.from({ length: 1_000 }, (_, n) => lineOf(n)).join(""));
    const first = collector();
    const t1 = startTailer(dir, first);
    await t1.start();
    await until("first run", () => first.lines().length === 1_000);
    await t1.stop();
    const saved = first.positions.snapshot();

    // While the sidecar is down: more lines, a rename rotation, a new file, a partial line.
    const fd = openSync(path, "a");
    for (let n = 1_000; n < 1_500; n++) writeSync(fd, lineOf(n));
    closeSync(fd);
    renameSync(path, `${path}.1`);
    writeFileSync(
      path,
      `${Array.from({ length: 500 }, (_, i) => lineOf(1_500 + i)).join("")}2000 pa`,
    );

    const second = collector();
    const t2 = startTailer(dir, second, saved);
    await t2.start();
    await until("second run", () => second.lines().length === 1_001);
    await t2.stop();
    const all = [...numbersOf(first.lines()), ...numbersOf(second.lines())];
    expect(all).toEqual(Array.from({ length: 2_001 }, (_, i) => i));
    expect(second.lines().at(-1)).toMatchObject({ unterminated: true });
    expect(second.losses()).toEqual([]);
    expect(second.events.filter((e) => e.kind === "end")).toHaveLength(1);
  });

  it("reports a file deleted before it was finished, and an inode that now holds other content", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ar-tail-gone-"));
    const gonePath = join(dir, "gone.log");
    const reusedPath = join(dir, "reused.log");
    writeFileSync(reusedPath, "new content\n");
    const reused = statSync(reusedPath, { bigint: true });
    const positions: FilePosition[] = [
      // Read up to 100 of 250 bytes, then the file was deleted while the sidecar was down.
      {
        path: gonePath,
        dev: String(reused.dev),
        ino: "999999999",
        fpLen: 4,
        fpHash: "b".repeat(64),
        generation: 0,
        offset: 100,
        seenSize: 250,
      },
      // Same dev and inode as reused.log now has, but other first bytes: the inode was reused.
      {
        path: reusedPath,
        dev: String(reused.dev),
        ino: String(reused.ino),
        fpLen: 4,
        fpHash: "c".repeat(64),
        generation: 2,
        offset: 5,
        seenSize: 60,
      },
    ];
    const c = collector();
    const tailer = startTailer(dir, c, positions);
    await tailer.start();
    await until("the new content", () => c.lines().length === 1);
    await tailer.stop();
    expect(c.losses()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          file: gonePath,
          reason: "deleted-unread",
          lostFrom: 100,
          lostTo: 250,
          resumeAt: null,
        }),
        expect.objectContaining({
          file: reusedPath,
          reason: "inode-reused",
          lostFrom: 5,
          lostTo: 60,
          resumeAt: 0,
        }),
      ]),
    );
    expect(c.lines()[0]).toMatchObject({ offset: 0, endOffset: 12 });
    expect(c.lines()[0]?.source.generation).toBe(3);
    expect(c.positions.snapshot().map((p) => p.path)).toEqual([reusedPath]);
    unlinkSync(reusedPath);
  });
});
