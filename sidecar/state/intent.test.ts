import { mkdirSync, mkdtempSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { INTENT_FILE, IntentNotes, readIntent, uncertain } from "./intent.ts";

const dir = () => mkdtempSync(join(tmpdir(), "ar-intent-"));

describe("checkpoint intent notes", () => {
  it("start writing when noted; durable() resolves once the newest note is on disk", async () => {
    const d = dir();
    const notes = new IntentNotes(d, {});
    for (let size = 1; size <= 50; size++) notes.note("o", 7, size);
    notes.note("p", 3, 2);
    await notes.durable();
    expect(await readIntent(d)).toEqual({ o: { epoch: 7, size: 50 }, p: { epoch: 3, size: 2 } });
    await notes.durable(); // nothing new: resolves at once
  });

  it("drop the unreadable-note marker once a note is written", async () => {
    const d = dir();
    const notes = new IntentNotes(d, { "*": { epoch: Number.MAX_SAFE_INTEGER, size: 0 } });
    expect(uncertain(notes.current, "o", null)).toBe(true);
    notes.note("o", 1, 10);
    await notes.durable();
    expect(JSON.parse(readFileSync(join(d, INTENT_FILE), "utf8"))).toEqual({
      o: { epoch: 1, size: 10 },
    });
  });

  it("report a failed write through durable() and write again on the next call", async () => {
    const d = join(dir(), "state");
    writeFileSync(d, ""); // not a folder yet: the write fails
    const notes = new IntentNotes(d, {});
    notes.note("o", 1, 10);
    await expect(notes.durable()).rejects.toThrow();
    unlinkSync(d);
    mkdirSync(d);
    await notes.durable();
    expect(await readIntent(d)).toEqual({ o: { epoch: 1, size: 10 } });
  });
});
