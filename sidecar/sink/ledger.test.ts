import { appendFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LedgerSink } from "./ledger.ts";

const rec = (n: number) => ({ key: "o", value: Buffer.from(JSON.stringify({ seq: n })) });

describe("ledger sink", () => {
  it("appends one line per message and acknowledges after the write", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "ar-ledger-")), "ledger.jsonl");
    const sink = new LedgerSink(path);
    expect(await sink.publish([rec(0), rec(1)])).toMatchObject({ where: "ledger", count: 2 });
    await sink.publish([rec(2)]);
    await sink.close();
    expect(readFileSync(path, "utf8")).toBe('{"seq":0}\n{"seq":1}\n{"seq":2}\n');
  });

  it("cuts a torn last line left by a crash before appending", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "ar-ledger-")), "ledger.jsonl");
    appendFileSync(path, '{"seq":0}\n{"seq":1');
    const sink = new LedgerSink(path);
    await sink.publish([rec(1)]);
    await sink.close();
    expect(readFileSync(path, "utf8")).toBe('{"seq":0}\n{"seq":1}\n');
  });

  it("refuses a value with a newline (it would become two records)", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "ar-ledger-")), "ledger.jsonl");
    const sink = new LedgerSink(path);
    await expect(sink.publish([{ key: "o", value: Buffer.from("a\nb") }])).rejects.toMatchObject({
      kind: "sink",
      retriable: false,
    });
    await sink.close();
  });
});
