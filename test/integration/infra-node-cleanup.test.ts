// "Nothing left behind": the test node (containerd and its shims, kubelet, kube-proxy, the
// control plane, pod mounts, the bridge, netns, iptables rules, cgroups) is taken down and the
// host sysctls restored, both by the graceful teardown and, after the owner was SIGKILLed, by
// the janitor. Each case starts a real cluster with one running pod in a child process.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { NODE_LOCK } from "../infra/host.ts";
import { NODE_NETWORK } from "../infra/network.ts";

const OWNER = new URL("./node-owner.ts", import.meta.url).pathname;

function startOwner(): { child: ChildProcess; ready: Promise<string> } {
  const child = spawn(process.execPath, [OWNER], { stdio: ["ignore", "pipe", "inherit"] });
  const ready = new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /READY (\S+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once("exit", (code, signal) =>
      reject(new Error(`node owner exited (${code ?? signal}) before READY`)),
    );
  });
  return { child, ready };
}

/** Parsed by line; what the node could leave behind, on this machine, for this state dir. */
function leftovers(stateDir: string): string[] {
  const found: string[] = [];
  const processes = execFileSync("ps", ["-eo", "pid,args"]).toString().split("\n");
  for (const p of processes) {
    if (
      p.includes(stateDir) ||
      /\b(kubelet|kube-proxy|kube-scheduler|kube-controller-manager|containerd-shim-runc-v2)\b/.test(
        p,
      )
    ) {
      if (!p.includes("ps -eo")) found.push(`process: ${p.trim()}`);
    }
  }
  for (const m of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const point = m.split(" ")[4] ?? "";
    if (
      point.startsWith(stateDir) ||
      point.startsWith("/var/run/netns/cni-") ||
      point.startsWith("/run/netns/cni-")
    )
      found.push(`mount: ${point}`);
  }
  try {
    execFileSync("ip", ["link", "show", NODE_NETWORK.bridge], { stdio: "ignore" });
    found.push(`bridge: ${NODE_NETWORK.bridge}`);
  } catch {
    // gone, as it should be
  }
  for (const table of ["filter", "nat", "mangle"]) {
    const rules = execFileSync("iptables-save", ["-t", table]).toString();
    for (const line of rules.split("\n"))
      if (/KUBE-|CNI-|AUDITREADY-/.test(line)) found.push(`iptables ${table}: ${line}`);
  }
  if (existsSync("/sys/fs/cgroup/pids/kubepods"))
    found.push("cgroup: /sys/fs/cgroup/pids/kubepods");
  if (existsSync(NODE_LOCK)) found.push(`lock: ${NODE_LOCK}`);
  return found;
}

const sysctls = [
  "kernel.panic",
  "kernel.panic_on_oops",
  "vm.overcommit_memory",
  "net.ipv4.ip_forward",
];
const readSysctls = () =>
  Object.fromEntries(sysctls.map((k) => [k, execFileSync("sysctl", ["-n", k]).toString().trim()]));

async function eventually(check: () => string[], timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let left = check();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1_000));
    left = check();
  }
  return left;
}

describe("the test node's teardown", () => {
  it("leaves nothing running or mounted and restores the sysctls after a graceful stop", async () => {
    const before = readSysctls();
    const { child, ready } = startOwner();
    try {
      const stateDir = await ready;
      // Running, the node has changed the host: the bridge forwards.
      expect(execFileSync("sysctl", ["-n", "net.ipv4.ip_forward"]).toString().trim()).toBe("1");
      expect(leftovers(stateDir).some((l) => l.startsWith("process:"))).toBe(true);
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      expect(await eventually(() => leftovers(stateDir), 30_000)).toEqual([]);
      expect(readSysctls()).toEqual(before);
    } finally {
      child.kill("SIGKILL");
    }
  }, 420_000);

  it("leaves nothing behind after its owner was SIGKILLed (the janitor takes the host back)", async () => {
    const before = readSysctls();
    const { child, ready } = startOwner();
    try {
      const stateDir = await ready;
      child.kill("SIGKILL");
      expect(await eventually(() => leftovers(stateDir), 90_000)).toEqual([]);
      expect(readSysctls()).toEqual(before);
    } finally {
      child.kill("SIGKILL");
    }
  }, 420_000);
});
