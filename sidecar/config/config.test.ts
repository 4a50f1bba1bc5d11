import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { SidecarError } from "../errors.ts";
import { configPathFrom, identityFromEnv, originOf } from "./identity.ts";
import { loadConfigFile, parseConfig } from "./load.ts";
import type { SidecarConfig, SidecarConfigInput } from "./schema.ts";
import { watchConfig } from "./watch.ts";

const valid: SidecarConfigInput = {
  version: 1,
  policy: { name: "payments-api", namespace: "payments", generation: 3 },
  sources: [{ container: "api", paths: ["/var/log/auditready/api/access*.log"] }],
  normalize: { format: "combined" },
  signing: { policyKeyFile: "/etc/auditready/key/policy.pem" },
  sink: {
    kafka: {
      brokers: ["kafka.kafka:9093"],
      topic: "audit.payments",
      sasl: {
        mechanism: "scram-sha-512",
        usernameFile: "/etc/auditready/kafka-sasl/username",
        passwordFile: "/etc/auditready/kafka-sasl/password",
      },
    },
  },
  stateDir: "/var/log/auditready/.state",
};

function errorOf(fn: () => unknown): SidecarError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SidecarError) return err;
    throw err;
  }
  throw new Error("expected a SidecarError");
}

describe("config loading", () => {
  it("accepts YAML and JSON alike and fills the defaults", () => {
    for (const text of [stringify(valid), JSON.stringify(valid)]) {
      const c = parseConfig(text, "/etc/auditready/config.yaml");
      expect(c.sink.kafka?.compression).toBe("zstd");
      expect(c.spool.maxBytes).toBe(256 * 1_048_576);
      expect(c.tail).toMatchObject({ rotateWaitMs: 5_000, maxLineBytes: 1_048_576 });
      expect(c.normalize.maxLineBytes).toBe(16_384);
    }
  });

  it("names the file and the path of every bad field", () => {
    const bad = structuredClone(valid) as Record<string, unknown> & typeof valid;
    (bad.sink.kafka as { brokers: string[] }).brokers = ["kafka"];
    (bad as { stateDir: string }).stateDir = "relative/dir";
    const err = errorOf(() => parseConfig(stringify(bad), "/etc/c.yaml"));
    expect(err.kind).toBe("config");
    expect(err.message).toContain("/etc/c.yaml");
    expect(err.message).toContain("sink.kafka.brokers[0]: must be host:port");
    expect(err.message).toContain("stateDir: must be an absolute path");
  });

  it("refuses unknown fields, duplicate keys and broken YAML", () => {
    expect(errorOf(() => parseConfig(stringify({ ...valid, extra: 1 }), "c")).message).toMatch(
      /\(root\): Unrecognized key: "extra"/,
    );
    expect(errorOf(() => parseConfig("version: 1\nversion: 1\n", "c")).message).toMatch(/YAML/);
    expect(errorOf(() => parseConfig("a: [1,", "c")).message).toMatch(/not valid YAML/);
  });

  it("checks the limits that depend on each other", () => {
    const tooSmall = {
      ...valid,
      tail: { maxLineBytes: 2_048 },
      normalize: { format: "json", maxLineBytes: 4_096 },
    };
    expect(errorOf(() => parseConfig(JSON.stringify(tooSmall), "c")).message).toMatch(
      /tail\.maxLineBytes: must be at least normalize\.maxLineBytes/,
    );
    const spool = { ...valid, spool: { maxBytes: 2 * 1_048_576 } };
    expect(errorOf(() => parseConfig(JSON.stringify(spool), "c")).message).toMatch(
      /spool\.maxBytes/,
    );
    const both = { ...valid, sink: { ...valid.sink, ledger: { path: "/l/ledger.jsonl" } } };
    expect(errorOf(() => parseConfig(JSON.stringify(both), "c")).message).toMatch(/exactly one/);
  });

  it("reports a missing file as a config error", async () => {
    await expect(loadConfigFile("/nonexistent/config.yaml")).rejects.toMatchObject({
      kind: "config",
    });
  });
});

describe("pod identity", () => {
  const env = {
    AUDITREADY_CLUSTER: "prod-eu",
    POD_NAME: "payments-api-7d9f-abcde",
    POD_NAMESPACE: "payments",
    POD_UID: "7f1c2a9e-0000-4000-8000-000000000001",
    NODE_NAME: "node-3",
    POD_SERVICE_ACCOUNT: "payments-api",
  };

  it("reads the downward-API variables and builds the origin", () => {
    const id = identityFromEnv(env);
    expect(id).toMatchObject({
      cluster: "prod-eu",
      pod: "payments-api-7d9f-abcde",
      node: "node-3",
    });
    expect(originOf(id, "api", "/var/log/app/access.log")).toBe(
      "prod-eu/payments/payments-api-7d9f-abcde/api/var/log/app/access.log",
    );
  });

  it("names each missing variable", () => {
    const { POD_UID: _u, NODE_NAME: _n, ...partial } = env;
    const err = errorOf(() => identityFromEnv(partial));
    expect(err.message).toContain("POD_UID");
    expect(err.message).toContain("NODE_NAME");
  });

  it("says where an empty POD_SERVICE_ACCOUNT comes from (ServiceAccount admission off)", () => {
    const err = errorOf(() => identityFromEnv({ ...env, POD_SERVICE_ACCOUNT: "" }));
    expect(err.message).toContain(
      "POD_SERVICE_ACCOUNT (from the downward API (spec.serviceAccountName)",
    );
    expect(err.message).toContain("ServiceAccount admission plugin");
    expect(err.message).not.toContain("POD_UID");
  });

  it("takes the config path from --config, then AUDITREADY_CONFIG", () => {
    expect(configPathFrom(["--config", "/a.yaml"], { AUDITREADY_CONFIG: "/b.yaml" })).toBe(
      "/a.yaml",
    );
    expect(configPathFrom(["--config=/c.yaml"], {})).toBe("/c.yaml");
    expect(configPathFrom([], { AUDITREADY_CONFIG: "/b.yaml" })).toBe("/b.yaml");
    expect(errorOf(() => configPathFrom([], {})).message).toMatch(/--config/);
    expect(errorOf(() => configPathFrom(["--config"], {})).message).toMatch(/needs a path/);
  });
});

describe("config reload", () => {
  it("applies a valid new file, rejects a broken one and keeps the running config", async () => {
    // The ConfigMap layout: config.yaml -> ..data/config.yaml, ..data -> a timestamped dir.
    const dir = mkdtempSync(join(tmpdir(), "ar-config-"));
    const v1 = join(dir, "..2026_v1");
    mkdirSync(v1);
    writeFileSync(join(v1, "config.yaml"), stringify(valid));
    symlinkSync("..2026_v1", join(dir, "..data"));
    symlinkSync("..data/config.yaml", join(dir, "config.yaml"));
    const path = join(dir, "config.yaml");

    const changed: SidecarConfig[] = [];
    const rejected: SidecarError[] = [];
    const watcher = watchConfig(
      path,
      stringify(valid),
      {
        changed: (c) => {
          changed.push(c);
        },
        rejected: (e) => rejected.push(e),
      },
      { intervalMs: 50 },
    );
    const swap = (name: string, text: string) => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, "config.yaml"), text);
      symlinkSync(name, join(dir, "..data_tmp"));
      renameSync(join(dir, "..data_tmp"), join(dir, "..data")); // atomic, as the kubelet does
    };
    try {
      swap("..2026_v2", stringify({ ...valid, policy: { ...valid.policy, generation: 4 } }));
      await until(() => changed.length === 1);
      expect(changed[0]?.policy.generation).toBe(4);
      swap("..2026_v3", "version: 2\n");
      await until(() => rejected.length === 1);
      expect(rejected[0]?.message).toMatch(/version/);
      expect(changed).toHaveLength(1);
    } finally {
      await watcher.close();
    }
  });
});

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  expect(check()).toBe(true);
}
