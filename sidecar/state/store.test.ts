import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SidecarError } from "../errors.ts";
import { emptyState, type FilePosition } from "./schema.ts";
import { loadState, STATE_FILE, StateStore } from "./store.ts";

const pos: FilePosition = {
  path: "/logs/a.log",
  dev: "2049",
  ino: "123",
  fpLen: 3,
  fpHash: "a".repeat(64),
  generation: 0,
  offset: 10,
  seenSize: 12,
};

describe("state store", () => {
  it("starts empty when there is no state file, and says so", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ar-state-"));
    const loaded = await loadState(dir);
    expect(loaded.existed).toBe(false);
    expect(loaded.document.files).toEqual([]);
  });

  it("round-trips a document and leaves no temp file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ar-state-"));
    const store = new StateStore(dir);
    await store.save({ ...emptyState(), files: [pos], stream: { epoch: 3 } });
    const loaded = await loadState(dir);
    expect(loaded.existed).toBe(true);
    expect(loaded.document.files).toEqual([pos]);
    expect(loaded.document.stream).toEqual({ epoch: 3 });
    expect(readdirSync(dir)).toEqual([STATE_FILE]);
  });

  it("coalesces a burst of saves and ends with the newest", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ar-state-"));
    const store = new StateStore(dir);
    const saves = Array.from({ length: 50 }, (_, i) =>
      store.save({ ...emptyState(), files: [{ ...pos, offset: i }], stream: null }),
    );
    await Promise.all(saves);
    const doc = JSON.parse(readFileSync(join(dir, STATE_FILE), "utf8"));
    expect(doc.files[0].offset).toBe(49);
  });

  it("refuses a corrupt or unknown state instead of starting over silently", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ar-state-"));
    writeFileSync(join(dir, STATE_FILE), "{not json");
    await expect(loadState(dir)).rejects.toThrow(SidecarError);
    writeFileSync(join(dir, STATE_FILE), JSON.stringify({ ...emptyState(), version: 2 }));
    await expect(loadState(dir)).rejects.toThrow(/version/);
  });

  it("removes temp files an interrupted write left", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ar-state-"));
    writeFileSync(join(dir, `.${STATE_FILE}.123.456.tmp`), "half");
    await loadState(dir);
    expect(readdirSync(dir)).toEqual([]);
  });
});
