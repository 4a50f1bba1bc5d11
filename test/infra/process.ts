// Long-running test components (Kafka's JVM, etcd, kube-apiserver) as child processes that can
// never outlive the run that started them. Each runs in its own process group with its output
// in a log file; a detached watchdog kills the group when the owner process is gone, so even a
// SIGKILLed test runner leaves nothing behind. stop() is the graceful path.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class ComponentError extends Error {
  override readonly name = "ComponentError";
}

export class ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<string>;
  private exitedWith: string | undefined;
  private readonly watchdog: ChildProcess;

  constructor(spec: ProcessSpec) {
    this.name = spec.name;
    this.logFile = spec.logFile;
    const log = openSync(spec.logFile, "a");
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      detached: true, // own process group: stop() and the watchdog kill the whole group
      stdio: ["ignore", log, log],
    });
    closeSync(log);
    if (child.pid === undefined)
      throw new ComponentError(`${spec.name}: could not start ${spec.command}`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.on("error", (err) => {
        this.exitedWith = `spawn error: ${err.message}`;
        resolve(this.exitedWith);
      });
      child.on("exit", (code, signal) => {
        this.exitedWith = signal ?? String(code);
        resolve(this.exitedWith);
      });
    });

    this.watchdog = startWatchdog(process.pid, this.pid);
  }

  get running(): boolean {
    return this.exitedWith === undefined;
  }

  /** The last lines of the component's log, for failure messages. */
  logTail(lines = 60): string {
    try {
      const all = readFileSync(this.logFile, "utf8").trimEnd().split("\n");
      return all.slice(-lines).join("\n");
    } catch (err) {
      return `(no log at ${this.logFile}: ${(err as Error).message})`;
    }
  }

  /** SIGTERM to the process group, SIGKILL after graceMs. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.running) {
      this.watchdog.kill("SIGKILL");
      return;
    }
    signalGroup(this.pid, "SIGTERM");
    const timer = setTimeout(() => signalGroup(this.pid, "SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
    signalGroup(this.pid, "SIGKILL"); // children the leader left behind, if any
    this.watchdog.kill("SIGKILL");
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

function startWatchdog(owner: number, pid: number): ChildProcess {
  const script = `while kill -0 ${owner} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 1; done
for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 -- -${pid} 2>/dev/null || exit 0; kill -TERM -- -${pid} 2>/dev/null; sleep 1; done
kill -KILL -- -${pid} 2>/dev/null; exit 0`;
  const watchdog = spawn("bash", ["-c", script], { detached: true, stdio: "ignore" });
  watchdog.unref();
  return watchdog;
}

/** Waits until check() returns a value, failing early with the log if the process dies. */
export async function waitUntilReady<T>(
  proc: ManagedProcess,
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "not ready yet";
  while (Date.now() < deadline) {
    if (!proc.running) {
      throw new ComponentError(
        `${proc.name} exited (${await proc.exited}) before ${what}; log ${proc.logFile}:\n${proc.logTail()}`,
      );
    }
    try {
      const result = await check();
      if (result !== undefined) return result;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new ComponentError(
    `${proc.name}: ${what} not reached within ${timeoutMs} ms (last: ${lastError}); log ${proc.logFile}:\n${proc.logTail()}`,
  );
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("freePort: no address"));
      });
    });
  });
}
