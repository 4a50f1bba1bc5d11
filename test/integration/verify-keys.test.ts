// `auditready verify --keys configmap:NS/NAME` and `secret:NS/NAME` read the trusted policy keys
// the operator publishes (data key keys.json, the key history array) from the real API server.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { StreamBuilder } from "../../entry/verify/testing.ts";
import { endpoint } from "../infra/endpoints.ts";

const cli = new URL("../../cli/auditready.ts", import.meta.url).pathname;
const namespace = `verify-keys-${randomUUID().slice(0, 8)}`;
const b = new StreamBuilder().logs(30);
b.push(b.sealer.end("SIGTERM"));
const dir = mkdtempSync(join(tmpdir(), "auditready-verify-keys-"));
const ledger = join(dir, "ledger.jsonl");
writeFileSync(ledger, `${b.messages.map((m) => m.value.toString()).join("\n")}\n`);
const history = JSON.stringify([
  {
    keyId: b.policyKey.keyId,
    publicKey: b.policyKey.publicKey.toString("base64"),
    notBefore: "2026-01-01T00:00:00Z",
  },
]);

const verify = (keys: string) =>
  spawnSync(
    process.execPath,
    [
      cli,
      "verify",
      "--file",
      ledger,
      "--keys",
      keys,
      "--kubeconfig",
      endpoint("kubeconfig"),
      "--quiet",
    ],
    {
      encoding: "utf8",
    },
  );

describe("trusted keys from the cluster", () => {
  beforeAll(async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(endpoint("kubeconfig"));
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: "auditready-p-keys" }, data: { "keys.json": history } },
    });
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: "auditready-p-key" },
        data: { "keys.json": Buffer.from(history).toString("base64") },
      },
    });
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: "empty" }, data: { other: "x" } },
    });
  });

  it("verifies with the keys of a ConfigMap", () => {
    const r = verify(`configmap:${namespace}/auditready-p-keys`);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^VERIFIED: 1 stream/m);
  });

  it("verifies with the keys of a Secret", () => {
    expect(verify(`secret:${namespace}/auditready-p-key`).status).toBe(0);
  });

  it("says clearly when the object or its keys.json is missing", () => {
    const missing = verify(`configmap:${namespace}/nope`);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^auditready: --keys configmap:.*\/nope: 404/);
    const empty = verify(`configmap:${namespace}/empty`);
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/no data key keys.json/);
  });
});
