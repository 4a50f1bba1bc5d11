// The generated AuditPolicy CRD on the real API server: a valid policy is stored with the
// server applying scalar defaults; invalid ones are rejected with a message naming the field,
// including the CEL rules; kubectl shows the printer columns.
import { execFileSync } from "node:child_process";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { endpoint } from "../infra/endpoints.ts";
import {
  adminConfig,
  createNamespace,
  installCrd,
  policyBody,
  policyRef,
  runId,
} from "./operator-support.ts";

const kc = adminConfig();
const objects = kc.makeApiClient(CustomObjectsApi);
const namespace = `crd-${runId()}`;
const ref = policyRef(namespace);
const valid = {
  selector: { matchLabels: { app: "payments-api" } },
  source: { paths: ["/var/log/app/access*.log"], format: "json" },
  sink: { kafka: { brokers: ["kafka:9093"], topic: "audit.payments" } },
  retention: { days: 30, replicas: 1, minInSync: 1 },
};

async function rejection(spec: Record<string, unknown>): Promise<string> {
  try {
    await objects.createNamespacedCustomObject({
      ...ref,
      body: policyBody(`bad-${runId()}`, spec),
    });
  } catch (err) {
    expect((err as { code?: number }).code).toBe(422);
    // The Status message is what kubectl prints: "...is invalid: [spec.x: ...]".
    return (JSON.parse(String((err as { body?: string }).body)) as { message: string }).message;
  }
  throw new Error("the API server accepted an invalid policy");
}

describe("the AuditPolicy CRD on the real API server", () => {
  beforeAll(async () => {
    await installCrd(kc);
    await createNamespace(kc, namespace);
  });

  it("stores a valid policy and applies scalar defaults", async () => {
    const created = (await objects.createNamespacedCustomObject({
      ...ref,
      body: policyBody("payments-api", valid),
    })) as { spec: { enforcement: string; signing?: unknown } };
    expect(created.spec.enforcement).toBe("Audit");
  });

  it("rejects a relative log path, naming the field", async () => {
    const body = await rejection({
      ...valid,
      source: { paths: ["var/log/app.log"], format: "json" },
    });
    expect(body).toContain("spec.source.paths[0]");
    expect(body).toContain("must be an absolute path");
  });

  it("rejects an unknown format, naming the field and the allowed values", async () => {
    const body = await rejection({ ...valid, source: { paths: ["/l/a.log"], format: "xml" } });
    expect(body).toMatch(/spec\.source\.format: Unsupported value: "xml"/);
  });

  it("rejects format regex without a pattern (CEL), naming spec.source.pattern", async () => {
    const body = await rejection({ ...valid, source: { paths: ["/l/a.log"], format: "regex" } });
    expect(body).toContain("spec.source.pattern");
    expect(body).toContain("pattern is required for format regex");
  });

  it("rejects minInSync above replicas (CEL), naming spec.retention.minInSync", async () => {
    const body = await rejection({ ...valid, retention: { days: 1, replicas: 1, minInSync: 2 } });
    expect(body).toContain("spec.retention.minInSync");
    expect(body).toContain("minInSync must not exceed replicas");
  });

  it("rejects a redact rule with both field and pattern", async () => {
    const body = await rejection({ ...valid, redact: [{ field: "a", pattern: "b" }] });
    expect(body).toContain("spec.redact[0]");
    expect(body).toContain("exactly one of field, pattern must be set");
  });

  it("rejects a policy without a sink, naming spec.sink", async () => {
    const { sink: _, ...noSink } = valid;
    const body = await rejection(noSink);
    expect(body).toMatch(/spec\.sink: Required value/);
  });

  it("shows COVERAGE / TOPIC / MODE / INTEGRITY / AGE in kubectl get", () => {
    const out = execFileSync(endpoint("kubectl"), [
      "--kubeconfig",
      endpoint("kubeconfig"),
      "get",
      "auditpolicies",
      "-n",
      namespace,
    ]).toString();
    expect(out.split("\n")[0]?.split(/\s+/)).toEqual([
      "NAME",
      "COVERAGE",
      "TOPIC",
      "MODE",
      "INTEGRITY",
      "AGE",
    ]);
    expect(out).toMatch(/payments-api\s+audit\.payments\s+Audit/);
  });

  it("is explained field by field by kubectl explain", () => {
    const out = execFileSync(endpoint("kubectl"), [
      "--kubeconfig",
      endpoint("kubeconfig"),
      "explain",
      "auditpolicy.spec.retention.minInSync",
    ]).toString();
    expect(out).toContain("min.insync.replicas of the topic.");
  });
});
