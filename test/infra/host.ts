// The host around the test node: node/host.sh installs the firewall guards and the bridge before
// anything else starts, and takes back all the node changed. One node per machine (the guards,
// the bridge and the sysctls are the host's): a lock file says who holds it. A detached janitor
// runs host.sh down when the owner process dies without its teardown (a SIGKILLed test run).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostEnv, type NodeNetwork } from "./network.ts";
import { ComponentError } from "./process.ts";

const HOST_SH = join(import.meta.dirname, "node", "host.sh");
export const NODE_LOCK = "/run/auditready-node.lock";

export interface HostSetup {
  stateDir: string;
  /** When the guards were installed (ns since the epoch), read back from the state dir. */
  guardsInstalledNs: bigint;
  /** host.sh down, then release the lock and stop the janitor. */
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function runHostScript(action: "up" | "down", stateDir: string, net: NodeNetwork): string {
  try {
    return execFileSync("bash", [HOST_SH, action, stateDir], {
      env: { ...process.env, ...hostEnv(net) },
      stdio: ["ignore", "pipe", "pipe"],
    }).toString();
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new ComponentError(`node/host.sh ${action} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

/** Takes the node lock; a lock whose owner is gone is cleaned up (host.sh down) and taken. */
function takeLock(stateDir: string, net: NodeNetwork): void {
  let previous: { pid: number; stateDir: string } | undefined;
  try {
    previous = JSON.parse(readFileSync(NODE_LOCK, "utf8"));
  } catch {
    previous = undefined;
  }
  if (previous && alive(previous.pid)) {
    throw new ComponentError(
      `another auditready node is running on this machine (pid ${previous.pid}, state ${previous.stateDir}): stop it first (Ctrl-C in npm run local, or let the test run end)`,
    );
  }
  if (previous) runHostScript("down", previous.stateDir, net);
  writeFileSync(NODE_LOCK, JSON.stringify({ pid: process.pid, stateDir }));
}

function startJanitor(stateDir: string, net: NodeNetwork): ChildProcess {
  // Waits for the owner to die; the daemons' own watchdogs stop them within ~10 s, then this
  // takes back the host. Killed by release() on a clean teardown.
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; sleep 12
bash ${JSON.stringify(HOST_SH)} down ${JSON.stringify(stateDir)} >>${JSON.stringify(join(stateDir, "janitor.log"))} 2>&1
rm -f ${NODE_LOCK}`;
  const janitor = spawn("bash", ["-c", script], {
    detached: true,
    stdio: "ignore",
    env: { ...process.env, ...hostEnv(net) },
  });
  janitor.unref();
  return janitor;
}

export function setUpHost(stateDir: string, net: NodeNetwork): HostSetup {
  if (process.getuid?.() !== 0) {
    throw new ComponentError(
      "the test node needs root (containerd, kubelet, iptables, a bridge): run the tests as root",
    );
  }
  mkdirSync(stateDir, { recursive: true });
  takeLock(stateDir, net);
  const janitor = startJanitor(stateDir, net);
  try {
    runHostScript("up", stateDir, net);
  } catch (err) {
    runHostScript("down", stateDir, net);
    janitor.kill("SIGKILL");
    rmSync(NODE_LOCK, { force: true });
    throw err;
  }
  const guardsInstalledNs = BigInt(readFileSync(join(stateDir, "guards.installed"), "utf8").trim());
  return {
    stateDir,
    guardsInstalledNs,
    release: () => {
      try {
        runHostScript("down", stateDir, net);
      } finally {
        janitor.kill("SIGKILL");
        rmSync(NODE_LOCK, { force: true });
      }
    },
  };
}
