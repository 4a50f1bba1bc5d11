// An app's log the sidecar may not read is never silent. The tailer runs without the right to
// read other users' files (root with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped, as the
// sidecar's uid 65532 is; it can still read this checkout, whatever its folder's mode) against
// a file only its owner (uid 1000) may read: it reports the file unreadable
// once (not on every poll), delivers a `file-unreadable` loss of what the file held (which the
// stream seals as a signed gap), keeps it in unreadableFiles() (the sidecar's readiness), and
// reads it from its first byte once the mode allows.
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const CHILD = new URL("./tail-unreadable-child.ts", import.meta.url).pathname;
let child: ChildProcess | undefined;
afterEach(() => child?.kill("SIGKILL"));

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An app's 0600 log (uid 1000) and the tailer on it without the right to read it. */
function startOn(first: string) {
  const dir = mkdtempSync(join(tmpdir(), "ar-tail-perm-"));
  chmodSync(dir, 0o755);
  const file = join(dir, "access.log");
  writeFileSync(file, first, { mode: 0o600 });
  chownSync(file, 1000, 1000); // the app's uid, as the demo app writes it
  chmodSync(file, 0o600);
  const out: Record<string, unknown>[] = [];
  const noDac = "-dac_override,-dac_read_search";
  child = spawn(
    "setpriv",
    [`--bounding-set=${noDac}`, `--inh-caps=${noDac}`, process.execPath, CHILD, join(dir, "*.log")],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  child.once("exit", (code, signal) => {
    if (code !== null && code !== 0) out.push({ exited: code, signal, stderr });
  });
  let buf = "";
  child.stdout?.on("data", (c: Buffer) => {
    buf += c.toString();
    const lines = buf.split("\n");
    buf = lines.pop() ?? "";
    for (const l of lines) out.push(JSON.parse(l) as Record<string, unknown>);
  });
  const unreadableNow = () => {
    const last = out.filter((o) => "unreadable" in o).pop();
    return (last?.unreadable as string[] | undefined) ?? [];
  };
  return { file, out, unreadableNow };
}

describe("a log file the sidecar may not read", () => {
  it("is reported once as a loss and made not ready, then read from its start when allowed", async () => {
    const first = "1 GET /a 200\n2 GET /b 200\n";
    const { file, out, unreadableNow } = startOn(first);
    await until("the loss", () => out.some((o) => o.kind === "loss" || "exited" in o));
    expect(out.find((o) => "exited" in o)).toBeUndefined();
    await until("readiness says unreadable", () => unreadableNow().length === 1);
    expect(unreadableNow()).toEqual(["EACCES"]);
    expect(out.filter((o) => o.kind === "loss")).toEqual([
      { kind: "loss", reason: "file-unreadable", lostFrom: 0, lostTo: Buffer.byteLength(first) },
    ]);
    await new Promise((r) => setTimeout(r, 500)); // ten polls: still one report, no error flood
    expect(out.filter((o) => o.observed === "file-unreadable")).toHaveLength(1);
    expect(out.filter((o) => o.observed === "tail-error")).toHaveLength(0);

    chmodSync(file, 0o644);
    await until("both lines", () => out.filter((o) => o.kind === "line").length === 2);
    expect(out.filter((o) => o.kind === "line").map((o) => o.text)).toEqual([
      "1 GET /a 200",
      "2 GET /b 200",
    ]);
    await until("readable again", () => unreadableNow().length === 0);
    expect(out.filter((o) => o.observed === "file-readable")).toEqual([
      { observed: "file-readable", how: "readable" },
    ]);
  });

  it("no longer keeps the sidecar not ready once the file is gone (its gap stands)", async () => {
    const { file, out, unreadableNow } = startOn("1 GET /a 200\n");
    await until(
      "readiness says unreadable",
      () => unreadableNow().length === 1 || out.some((o) => "exited" in o),
    );
    expect(out.find((o) => "exited" in o)).toBeUndefined();
    unlinkSync(file);
    await until("not unreadable any more", () => unreadableNow().length === 0);
    expect(out.filter((o) => o.observed === "file-readable")).toEqual([
      { observed: "file-readable", how: "gone" },
    ]);
    expect(out.filter((o) => o.kind === "loss")).toHaveLength(1);
    expect(out.filter((o) => o.kind === "line")).toHaveLength(0);
  });
});
