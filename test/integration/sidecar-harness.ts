// Test support for the sidecar as a process: a pod-like layout in a temp folder (log dir,
// state dir, config file, policy key), the sidecar started as `node sidecar/main.ts` with the
// downward-API env, a log writer, and the verifier as the judge of what reached the store.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { readLedger, readTopic } from "../../cli/sources.ts";
import { generateSigningKey, privateKeyPem } from "../../entry/keys.ts";
import { Verifier, type VerifyReport } from "../../entry/verify/verifier.ts";
import type { SidecarConfigInput } from "../../sidecar/config/schema.ts";
import { freePort } from "../infra/process.ts";

export const MAIN = resolve(import.meta.dirname, "../../sidecar/main.ts");

export interface Pod {
  dir: string;
  logDir: string;
  logFile: string;
  stateDir: string;
  configPath: string;
  ledger: string;
  port: number;
  publicKey: string;
  env: NodeJS.ProcessEnv;
  config: SidecarConfigInput;
  writeConfig(c: SidecarConfigInput): void;
}

export async function makePod(sink: SidecarConfigInput["sink"] | "ledger"): Promise<Pod> {
  const dir = mkdtempSync(join(tmpdir(), "ar-pod-"));
  const logDir = join(dir, "logs");
  const stateDir = join(dir, "state");
  mkdirSync(logDir);
  const key = generateSigningKey();
  const keyFile = join(dir, "policy.pem");
  writeFileSync(keyFile, privateKeyPem(key), { mode: 0o600 });
  const ledger = join(dir, "ledger.jsonl");
  const port = await freePort();
  const config: SidecarConfigInput = {
    version: 1,
    policy: { name: "payments-api", namespace: "payments", generation: 1 },
    sources: [{ container: "api", paths: [join(logDir, "access*.log")] }],
    normalize: { format: "combined" },
    signing: { policyKeyFile: keyFile, sealEvery: { entries: 1_000, millis: 200 } },
    sink: sink === "ledger" ? { ledger: { path: ledger } } : sink,
    stateDir,
    tail: { pollMs: 50, partialLineFlushMs: 500, rotateWaitMs: 500 },
    server: { host: "127.0.0.1", port },
  };
  const configPath = join(dir, "config.yaml");
  const writeConfig = (c: SidecarConfigInput) => writeFileSync(configPath, stringify(c));
  writeConfig(config);
  return {
    dir,
    logDir,
    logFile: join(logDir, "access.log"),
    stateDir,
    configPath,
    ledger,
    port,
    publicKey: key.publicKey.toString("base64"),
    config,
    writeConfig,
    env: {
      ...process.env,
      AUDITREADY_CLUSTER: "test",
      POD_NAME: "payments-api-0",
      POD_NAMESPACE: "payments",
      POD_UID: "00000000-0000-4000-8000-000000000001",
      NODE_NAME: "node-1",
      POD_SERVICE_ACCOUNT: "payments-api",
      AUDITREADY_GRACE_MS: "20000",
    },
  };
}

export interface RunningSidecar {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | string>;
}

export function startSidecar(pod: Pod): RunningSidecar {
  const child = spawn(process.execPath, [MAIN, "--config", pod.configPath], {
    env: pod.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  const exited = new Promise<number | string>((r) =>
    child.on("close", (code, signal) => r(signal ?? code ?? -1)),
  );
  return { child, output: () => out, exited };
}

export async function readiness(pod: Pod): Promise<{ status: number; body: unknown } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${pod.port}/readyz`);
    return { status: res.status, body: await res.json() };
  } catch {
    return undefined; // not listening yet
  }
}

/** Polls `check` until true; a throw (a ledger not written yet) counts as "not yet". */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 30_000) {
  const deadline = Date.now() + ms;
  let last = "";
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = ` (last: ${(err as Error).message})`;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const accessLine = (n: number) =>
  `10.0.0.${n % 250} - user${n % 97} [23/Nov/2026:10:00:00 +0000] "GET /api/items/${n} HTTP/1.1" 200 ${100 + (n % 900)} "-" "curl/8.5"\n`;

export interface Judged {
  report: VerifyReport;
  /** Line numbers of the `log` records, in store order (duplicates included). */
  lines: number[];
  leafTypes: Map<string, number>;
  gaps: { reason: string; lostFrom: number; lostTo: number }[];
}

/** Feeds every stored message to the verifier and extracts what the log records cover. */
export async function judge(
  pod: Pod,
  source: { ledger: string } | { brokers: string[]; topic: string },
): Promise<Judged> {
  const verifier = new Verifier({ trustedKeys: [{ publicKey: pod.publicKey }] });
  const lines: number[] = [];
  const leafTypes = new Map<string, number>();
  const gaps: Judged["gaps"] = [];
  const messages =
    "ledger" in source
      ? readLedger(source.ledger, () => undefined)
      : readTopic(source, () => undefined);
  for await (const m of messages) {
    verifier.add(m);
    const r = JSON.parse(m.value.toString());
    leafTypes.set(r.type, (leafTypes.get(r.type) ?? 0) + 1);
    if (r.type === "log") lines.push(Number(/items\/(\d+)/.exec(r.event.raw)?.[1] ?? -1));
    if (r.type === "gap") gaps.push({ reason: r.reason, lostFrom: r.lostFrom, lostTo: r.lostTo });
  }
  return { report: verifier.finish(), lines, leafTypes, gaps };
}

export function findingCodes(report: VerifyReport): string[] {
  return [...report.streams.flatMap((s) => s.findings), ...report.unplaced].map((f) => f.code);
}
