import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { AuditPolicySpec } from "./api/policy.ts";
import { injectionPatch } from "./inject.ts";
import { supportsNativeSidecars } from "./serverversion.ts";

describe("native sidecar support", () => {
  it("is on from Kubernetes 1.29 (minor versions may carry a +)", () => {
    expect(supportsNativeSidecars({ major: "1", minor: "28" })).toBe(false);
    expect(supportsNativeSidecars({ major: "1", minor: "29" })).toBe(true);
    expect(supportsNativeSidecars({ major: "1", minor: "36+" })).toBe(true);
    expect(supportsNativeSidecars({})).toBe(true);
  });

  it("falls back to a regular container on an older server, whatever the policy asks", () => {
    const policy = {
      name: "p",
      namespace: "ns",
      uid: "u",
      generation: 1,
      creationTimestamp: "2026-01-01T00:00:00Z",
      spec: AuditPolicySpec.parse({
        selector: {},
        source: { paths: ["/l/a.log"], format: "json" },
        sink: { kafka: { brokers: ["k:1"], topic: "t" } },
      }),
    };
    const pod: V1Pod = {
      metadata: { name: "x" },
      spec: { containers: [{ name: "api", image: "a" }] },
    };
    const r = injectionPatch(pod, policy, { cluster: "c", nativeSidecars: false });
    const paths = r.ok ? r.patch.map((p) => p.path) : [];
    expect(paths).toContain("/spec/containers/-");
    expect(paths).not.toContain("/spec/initContainers");
  });
});
