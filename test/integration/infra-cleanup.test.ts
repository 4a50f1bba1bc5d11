// "No process is left running after the test command ends, even when it is interrupted":
// a runner that dies by SIGKILL cannot run its teardown, so the watchdog must do it.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function eventually(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

describe("ManagedProcess", () => {
  it("is killed with its whole process group when the owner is SIGKILLed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "auditready-cleanup-"));
    const pidFile = join(dir, "pids");
    // The owner starts a component whose leader also forks a child, prints both pids, then hangs.
    const ownerScript = `
      import { writeFileSync } from "node:fs";
      import { ManagedProcess } from ${JSON.stringify(new URL("../infra/process.ts", import.meta.url).href)};
      const p = new ManagedProcess({ name: "sleeper", command: "bash",
        args: ["-c", "sleep 300 & echo $! > ${pidFile}.child; wait"], logFile: "${dir}/log" });
      writeFileSync("${pidFile}", String(p.pid));
      setInterval(() => {}, 1000);`;
    const owner = spawn(process.execPath, ["--input-type=module", "-e", ownerScript], {
      stdio: "inherit",
    });
    // If an expectation fails before the kill below, the owner must not outlive the test.
    try {
      // Both files: bash may write the child's pid before the owner has written the leader's.
      const started = await eventually(() => {
        try {
          return (
            readFileSync(pidFile, "utf8").trim() !== "" &&
            readFileSync(`${pidFile}.child`, "utf8").trim() !== ""
          );
        } catch {
          return false;
        }
      }, 10_000);
      expect(started).toBe(true);
      const leader = Number(readFileSync(pidFile, "utf8"));
      const child = Number(readFileSync(`${pidFile}.child`, "utf8"));
      expect(alive(leader) && alive(child)).toBe(true);

      owner.kill("SIGKILL");
      expect(await eventually(() => !alive(leader) && !alive(child), 5_000)).toBe(true);
      const watchdogs = () =>
        execFileSync("ps", ["-eo", "args"])
          .toString()
          .split("\n")
          .filter((a) => a.includes(`kill -0 -- -${leader}`));
      // The watchdog itself leaves once the group is gone (it polls once a second).
      expect(await eventually(() => watchdogs().length === 0, 3_000)).toBe(true);
    } finally {
      owner.kill("SIGKILL");
    }
  });
});
