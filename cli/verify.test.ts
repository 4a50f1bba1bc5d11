// `auditready verify` as a user runs it: a real process, a ledger file, exit codes and output.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { StreamBuilder } from "../entry/verify/testing.ts";

const cli = new URL("./auditready.ts", import.meta.url).pathname;
const run = (...args: string[]) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });

function ledger(drop?: number) {
  const dir = mkdtempSync(join(tmpdir(), "auditready-cli-"));
  const b = new StreamBuilder().logs(40);
  b.push(b.sealer.end("SIGTERM"));
  const msgs = b.messages.filter((_, i) => i !== drop);
  writeFileSync(join(dir, "ledger.jsonl"), `${msgs.map((m) => m.value.toString()).join("\n")}\n`);
  writeFileSync(join(dir, "keys.json"), JSON.stringify({ keys: b.trustedKeys() }));
  return dir;
}

// Each test starts node processes: on a busy 2-core machine that takes seconds, not the
// default 5 s budget of a unit test.
describe("auditready verify", { timeout: 30_000 }, () => {
  it("explains itself", () => {
    const r = run("verify", "--help");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--keys SPEC/);
    expect(r.stdout).toMatch(/Exit status: 0 verified/);
  });

  it("exits 0 and names the verified range for an intact ledger, and saves its state", () => {
    const dir = ledger();
    const r = run(
      "verify",
      "--file",
      join(dir, "ledger.jsonl"),
      "--keys",
      join(dir, "keys.json"),
      "--state",
      join(dir, "state.json"),
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/verified seq 0\.\.41, time .*\.\..*\(42 records/);
    expect(r.stdout).toMatch(/^VERIFIED: 1 stream\(s\), 0 with errors/m);
    const again = run(
      "verify",
      "--file",
      join(dir, "ledger.jsonl"),
      "--keys",
      join(dir, "keys.json"),
      "--state",
      join(dir, "state.json"),
      "--json",
    );
    expect(again.status).toBe(0);
    expect(JSON.parse(again.stdout).ok).toBe(true);
  });

  it("exits 1 with the findings when a record is missing", () => {
    const dir = ledger(10);
    const r = run(
      "verify",
      "--file",
      join(dir, "ledger.jsonl"),
      "--keys",
      join(dir, "keys.json"),
      "--json",
    );
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout) as { streams: { findings: { code: string }[] }[] };
    expect(report.streams[0]?.findings.map((f) => f.code)).toContain("GAP");
  });

  it("exits 2 with a clear message on bad usage, never a stack trace", () => {
    const noKeys = run("verify", "--file", "/nonexistent");
    expect(noKeys.status).toBe(2);
    expect(noKeys.stderr).toBe(
      "auditready: --keys is required: verification without trusted keys proves nothing\n",
    );
    const badKeys = run("verify", "--file", "/nonexistent", "--keys", "/nonexistent/keys.json");
    expect(badKeys.status).toBe(2);
    expect(badKeys.stderr).toMatch(/^auditready: --keys \/nonexistent\/keys.json: ENOENT/);
  });
});
