// The state file survives SIGKILL at any moment: a child process saves ever-newer documents as
// fast as it can and is killed at random points, ten times. After each kill the file must load
// and validate, and hold a document at least as new as the last save the child saw complete.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { loadState } from "../../sidecar/state/store.ts";

const storeModule = pathToFileURL(
  resolve(import.meta.dirname, "../../sidecar/state/store.ts"),
).href;
const schemaModule = pathToFileURL(
  resolve(import.meta.dirname, "../../sidecar/state/schema.ts"),
).href;

// Saves documents with 2,000 file positions (~400 kB) so a kill often lands mid-write.
const writer = `
const { StateStore } = await import(${JSON.stringify(storeModule)});
const { emptyState } = await import(${JSON.stringify(schemaModule)});
const store = new StateStore(process.argv[1]);
for (let n = 1; ; n++) {
  const files = Array.from({ length: 2000 }, (_, i) => ({
    path: "/var/log/app/access-" + i + ".log", dev: "2049", ino: String(1000 + i),
    fpLen: 1024, fpHash: "ab".repeat(32), generation: 0, offset: n * 100 + i, seenSize: n * 100 + i,
  }));
  await store.save({ ...emptyState(), files, stream: { counter: n } });
  process.stdout.write(n + "\\n");
}
`;

describe("sidecar state file", () => {
  it("is always whole and never older than the last completed save after SIGKILL (10 kills)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ar-state-kill-"));
    for (let round = 0; round < 10; round++) {
      const child = spawn(process.execPath, ["--input-type=module", "-e", writer, dir], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
      });
      // "close", not "exit": every line the child wrote has been read by then.
      const exited = new Promise((r) => child.on("close", r));
      // Wait until it saved at least once, then kill at a random point of a later write.
      while (!out.includes("\n")) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 200));
      child.kill("SIGKILL");
      await exited;
      const completed = Math.max(...out.trim().split("\n").map(Number));
      const { document, existed } = await loadState(dir);
      expect(existed).toBe(true);
      const counter = (document.stream as { counter: number }).counter;
      expect(counter).toBeGreaterThanOrEqual(completed);
      expect(counter).toBeLessThanOrEqual(completed + 1); // at most the one being written
      expect(document.files).toHaveLength(2_000);
      expect(document.files[0]?.offset).toBe(counter * 100);
      // Each run restarts counting at 1: the check is per run, and loading cleaned up temps.
      expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    }
  });
});
