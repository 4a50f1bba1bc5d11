import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { applyPatch } from "../../test/unit/apply-patch.ts";
import { AuditPolicySpec, type Policy } from "../api/policy.ts";
import { podShape } from "../sidecar-spec.ts";
import { admit } from "./admit.ts";
import { decodeReview, encodeReview } from "./review.ts";

const policy = (name: string, enforcement: "Audit" | "Enforce", namespace = "ns"): Policy => ({
  name,
  namespace,
  uid: name,
  generation: 1,
  creationTimestamp: "2026-01-01T00:00:00Z",
  spec: AuditPolicySpec.parse({
    selector: { matchLabels: { app: "a" } },
    containers: ["api"],
    source: { paths: ["/l/a.log"], format: "json" },
    sink: { kafka: { brokers: ["k:1"], topic: "t" } },
    enforcement,
  }),
});
const ctx = { cluster: "c", excludedNamespaces: new Set(["kube-system", "ops"]) };
const pod = (containers = ["api"], annotations?: Record<string, string>): V1Pod => ({
  metadata: { name: "p", labels: { app: "a" }, ...(annotations && { annotations }) },
  spec: { containers: containers.map((name) => ({ name, image: "x" })) },
});

describe("admit", () => {
  it("patches a selected pod", () => {
    const d = admit("ns", pod(), [policy("p", "Enforce")], ctx);
    expect(d.allowed).toBe(true);
    expect(d.patch.length).toBeGreaterThan(0);
    expect(d.policy).toBe("p");
  });

  it("never touches an excluded namespace, whatever a policy there says", () => {
    expect(admit("ops", pod(["web"]), [policy("p", "Enforce", "ops")], ctx)).toEqual({
      allowed: true,
      patch: [],
      warnings: [],
    });
  });

  it("Enforce refuses what it cannot inject, with the reason; Audit admits it with a warning", () => {
    const refused = admit("ns", pod(["web"]), [policy("p", "Enforce")], ctx);
    expect(refused.allowed).toBe(false);
    expect(refused.message).toBe(
      "AuditPolicy ns/p (Enforce) cannot inject the audit sidecar: the pod has no container named api (ContainerNotFound)",
    );
    const admitted = admit("ns", pod(["web"]), [policy("p", "Audit")], ctx);
    expect(admitted.allowed).toBe(true);
    expect(admitted.patch).toEqual([]);
    expect(admitted.warnings[0]).toMatch(/will be reported as uncovered$/);
  });

  it("Enforce refuses an opted-out pod; Audit admits it uninjected", () => {
    const optOut = pod(["api"], { "auditready.dev/inject": "false" });
    expect(admit("ns", optOut, [policy("p", "Enforce")], ctx).allowed).toBe(false);
    const audit = admit("ns", optOut, [policy("p", "Audit")], ctx);
    expect([audit.allowed, audit.patch]).toEqual([true, []]);
  });

  it("re-admits a pod it injected (reinvocation, a re-created copy), also after a generation that keeps the pod shape", () => {
    const first = admit("ns", pod(), [policy("p", "Enforce")], ctx);
    const injected = applyPatch(pod(), first.patch);
    expect(admit("ns", injected, [policy("p", "Enforce")], ctx)).toEqual({
      allowed: true,
      patch: [],
      warnings: [],
      policy: "p",
    });
    const later = { ...policy("p", "Enforce"), generation: 4 };
    expect(admit("ns", injected, [later], ctx).allowed).toBe(true);
  });

  it("Enforce refuses a pod whose injection annotation is forged, naming what differs", () => {
    const forged = pod(["api"], {
      "auditready.dev/injected": "p@1",
      "auditready.dev/injected-shape": podShape(policy("p", "Enforce")),
    });
    const d = admit("ns", forged, [policy("p", "Enforce")], ctx);
    expect([d.allowed, d.patch]).toEqual([false, []]);
    expect(d.message).toBe(
      "AuditPolicy ns/p (Enforce) refuses the pod: its sidecar differs from what auditready-operator injects for policy p@1: the pod has no auditready-sidecar container",
    );
  });

  it("Enforce refuses an edited sidecar; Audit admits it unpatched with a warning", () => {
    const injected = applyPatch(pod(), admit("ns", pod(), [policy("p", "Enforce")], ctx).patch);
    const sidecar = injected.spec?.initContainers?.[0];
    if (sidecar) sidecar.image = "evil:1";
    const refused = admit("ns", injected, [policy("p", "Enforce")], ctx);
    expect(refused.message).toBe(
      'AuditPolicy ns/p (Enforce) refuses the pod: its sidecar differs from what auditready-operator injects for policy p@1: image is "evil:1", expected "auditready:0.1.0"',
    );
    const audit = admit("ns", injected, [policy("p", "Audit")], ctx);
    expect([audit.allowed, audit.patch]).toEqual([true, []]);
    expect(audit.warnings).toEqual([
      'AuditPolicy ns/p: the pod\'s sidecar differs from what auditready-operator injects for policy p@1: image is "evil:1", expected "auditready:0.1.0"; it will be reported as uncovered',
    ]);
  });

  it("Enforce refuses a hand-written auditready-sidecar container", () => {
    const d = admit("ns", pod(["api", "auditready-sidecar"]), [policy("p", "Enforce")], ctx);
    expect(d.allowed).toBe(false);
    expect(d.message).toContain(
      "no auditready.dev/injected annotation (only auditready-operator adds that container)",
    );
  });

  it("lets the first policy by name decide when several select the pod", () => {
    const d = admit("ns", pod(["web"]), [policy("b", "Enforce"), policy("a", "Audit")], ctx);
    expect([d.allowed, d.policy]).toEqual([true, "a"]);
  });
});

describe("AdmissionReview", () => {
  it("decodes a pod review and refuses anything else with a BadReview error", () => {
    const ok = decodeReview(
      JSON.stringify({
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        request: {
          uid: "u",
          namespace: "ns",
          operation: "CREATE",
          kind: { group: "", version: "v1", kind: "Pod" },
          object: pod(),
        },
      }),
    );
    expect(ok.ok && ok.request.pod.metadata?.name).toBe("p");
    expect(decodeReview("{").ok).toBe(false);
    const wrong = decodeReview(JSON.stringify({ apiVersion: "v1", kind: "Pod" }));
    expect(wrong.ok ? "" : wrong.error.kind).toBe("BadReview");
  });

  it("encodes a denial with a 403 status message and a patch as base64 JSON", () => {
    const denied = JSON.parse(
      encodeReview("u", { allowed: false, patch: [], message: "no", warnings: [] }),
    );
    expect(denied.response).toEqual({
      uid: "u",
      allowed: false,
      status: { code: 403, reason: "Forbidden", message: "no" },
    });
    const patched = JSON.parse(
      encodeReview("u", {
        allowed: true,
        patch: [{ op: "add", path: "/x", value: 1 }],
        warnings: ["w"],
      }),
    );
    expect(patched.response.patchType).toBe("JSONPatch");
    expect(JSON.parse(Buffer.from(patched.response.patch, "base64").toString())).toEqual([
      { op: "add", path: "/x", value: 1 },
    ]);
    expect(patched.response.warnings).toEqual(["w"]);
  });
});
