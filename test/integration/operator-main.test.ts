// operator/main.ts as a process, configured by environment only, as the chart will run it:
// it starts under its ServiceAccount, injects pods through the real API server, serves
// /metrics with the admission histogram, and exits cleanly on SIGTERM.
import { type ChildProcess, spawn } from "node:child_process";
import { request } from "node:https";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../infra/process.ts";
import {
  adminConfig,
  createNamespace,
  type Deployment,
  deployOperator,
  installCrd,
  minimalSpec,
  podBody,
  policyBody,
  policyRef,
  runId,
  until,
} from "./operator-support.ts";

const kc = adminConfig();
const run = runId();
const namespace = `main-${run}`;
let deployment: Deployment;
let child: ChildProcess;
let output = "";
let port = 0;

describe("the operator process (operator/main.ts)", () => {
  beforeAll(async () => {
    await installCrd(kc);
    deployment = await deployOperator(kc, run);
    await createNamespace(kc, namespace);
    port = await freePort();
    child = spawn(process.execPath, ["operator/main.ts"], {
      cwd: new URL("../..", import.meta.url).pathname,
      env: {
        PATH: process.env.PATH ?? "",
        KUBECONFIG: deployment.saKubeconfigPath,
        AUDITREADY_CLUSTER: "it",
        AUDITREADY_NAMESPACE: deployment.namespace,
        POD_NAME: "main-process",
        AUDITREADY_WEBHOOK_HOST: "127.0.0.1",
        AUDITREADY_WEBHOOK_PORT: String(port),
        AUDITREADY_WEBHOOK_URL: `https://127.0.0.1:${port}/mutate`,
        AUDITREADY_WEBHOOK_CONFIGURATION: deployment.names.webhookConfiguration,
        AUDITREADY_LEASE: deployment.names.lease,
        AUDITREADY_POLICY_SELECTOR: `auditready.dev/test-instance=${run}`,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (c: Buffer) => {
      output += c.toString();
    });
    child.stderr?.on("data", (c: Buffer) => {
      output += c.toString();
    });
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      ...policyRef(namespace),
      body: policyBody("p", minimalSpec("p", `it.main.${run}`), run),
    });
  });
  afterAll(async () => {
    if (child.exitCode === null) child.kill("SIGKILL");
    await deployment?.cleanup();
  });

  it("injects pods created through the real API server", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    let n = 0;
    await until(
      "injected by the process",
      async () => {
        const created = await core.createNamespacedPod({
          namespace,
          body: podBody(`p-${n++}`, { app: "p" }),
        });
        return created.metadata?.annotations?.["auditready.dev/injected"] ? true : undefined;
      },
      30_000,
      200,
    ).catch((err) => {
      throw new Error(`${err}\noperator output:\n${output}`);
    });
  });

  it("serves the admission latency histogram on /metrics", async () => {
    const text = await new Promise<string>((resolve, reject) => {
      request({ host: "127.0.0.1", port, path: "/metrics", rejectUnauthorized: false }, (res) => {
        let out = "";
        res.on("data", (c: Buffer) => {
          out += c.toString();
        });
        res.on("end", () => resolve(out));
      })
        .on("error", reject)
        .end();
    });
    expect(text).toMatch(/auditready_webhook_admission_seconds_count\{decision="patched"\} [1-9]/);
  });

  it("exits 0 on SIGTERM", async () => {
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code) => resolve(code)),
    );
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("printed only JSON log lines (Node's warnings included, kafkajs' negative-timeout noise dropped)", () => {
    const lines = output.split("\n").filter((l) => l !== "");
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => !l.startsWith("{") || !JSON.parse(l))).toEqual([]);
  });
});
