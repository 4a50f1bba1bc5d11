import { describe, expect, it } from "vitest";
import { AuditPolicySpec, type Policy } from "../api/policy.ts";
import { desiredWebhooks, webhookName } from "./configuration.ts";

const policy = (name: string, namespace: string, enforcement: "Audit" | "Enforce"): Policy => ({
  name,
  namespace,
  uid: name,
  generation: 1,
  creationTimestamp: "2026-01-01T00:00:00Z",
  spec: AuditPolicySpec.parse({
    selector: {
      matchLabels: { app: name },
      matchExpressions: [{ key: "tier", operator: "Exists" }],
    },
    source: { paths: ["/l/a.log"], format: "json" },
    sink: { kafka: { brokers: ["k:1"], topic: "t" } },
    enforcement,
  }),
});

const settings = {
  endpoint: { service: { namespace: "ops", name: "op", port: 443 } },
  caBundlePem: "CA",
  excludedNamespaces: ["kube-system", "ops"],
};

describe("desiredWebhooks", () => {
  const hooks = desiredWebhooks(
    [
      policy("strict", "pay", "Enforce"),
      policy("loose", "web", "Audit"),
      policy("self", "ops", "Enforce"),
    ],
    settings,
  );

  it("has one entry per policy outside the excluded namespaces", () => {
    expect(hooks.map((h) => h.name).sort()).toEqual(
      [
        webhookName({ namespace: "pay", name: "strict" }),
        webhookName({ namespace: "web", name: "loose" }),
      ].sort(),
    );
  });

  it("fails closed only for Enforce policies, and re-runs on reinvocation", () => {
    const strict = hooks.find((h) => h.name === webhookName({ namespace: "pay", name: "strict" }));
    const loose = hooks.find((h) => h.name === webhookName({ namespace: "web", name: "loose" }));
    expect([strict?.failurePolicy, loose?.failurePolicy]).toEqual(["Fail", "Ignore"]);
    expect(
      hooks.every((h) => h.reinvocationPolicy === "IfNeeded" && h.sideEffects === "None"),
    ).toBe(true);
  });

  it("intercepts pod creation only, so an outage never blocks updates (finalizers, labels) of running pods", () => {
    expect(hooks.flatMap((h) => h.rules ?? []).map((r) => [r.resources, r.operations])).toEqual([
      [["pods"], ["CREATE"]],
      [["pods"], ["CREATE"]],
    ]);
  });

  it("scopes each entry to its namespace and pod selector, never to kube-system or the operator's", () => {
    const strict = hooks.find((h) => h.name === webhookName({ namespace: "pay", name: "strict" }));
    expect(strict?.namespaceSelector?.matchExpressions).toEqual([
      { key: "kubernetes.io/metadata.name", operator: "In", values: ["pay"] },
      { key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["kube-system", "ops"] },
    ]);
    expect(strict?.objectSelector).toEqual({
      matchLabels: { app: "strict" },
      matchExpressions: [{ key: "tier", operator: "Exists" }],
    });
    expect(strict?.clientConfig).toEqual({
      service: { namespace: "ops", name: "op", port: 443, path: "/mutate" },
      caBundle: Buffer.from("CA").toString("base64"),
    });
  });
});
