import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { applyPatch } from "../test/unit/apply-patch.ts";
import { AuditPolicySpec, type Policy } from "./api/policy.ts";
import { injectionPatch } from "./inject.ts";
import type { PodView } from "./podview.ts";
import { coverage, type Observed, reconcileStatus, sameStatus } from "./reconcile.ts";
import { type InjectedParts, injectedParts } from "./sidecar-match.ts";
import { podShape } from "./sidecar-spec.ts";

const policy = (name = "pay", generation = 2): Policy => ({
  name,
  namespace: "ns",
  uid: `uid-${name}`,
  generation,
  creationTimestamp: "2026-01-01T00:00:10Z",
  spec: AuditPolicySpec.parse({
    selector: { matchLabels: { app: "pay" } },
    source: { paths: ["/var/log/app/a.log"], format: "json" },
    sink: { kafka: { brokers: ["k:1"], topic: "t" } },
  }),
});

const injection = { cluster: "c" };

/** What injection leaves on an app pod for a policy, as the controller keeps it. */
function partsFor(p: Policy): InjectedParts {
  const bare: V1Pod = {
    metadata: { name: "x" },
    spec: { containers: [{ name: "api", image: "a" }] },
  };
  const r = injectionPatch(bare, p, injection);
  if (!r.ok) throw new Error(r.error.message);
  return injectedParts(applyPatch(bare, r.patch));
}
const PARTS = partsFor(policy());

type Over = { [K in keyof PodView]?: PodView[K] | undefined };
const pod = (name: string, over: Over = {}): PodView =>
  ({
    namespace: "ns",
    name,
    uid: name,
    labels: { app: "pay" },
    optedOut: false,
    createdAt: "2026-01-01T00:01:00Z",
    containers: ["api"],
    terminating: false,
    injected: "pay@2",
    injectedShape: podShape(policy()),
    parts: PARTS,
    sidecarReady: true,
    ...over,
  }) as PodView;

const ok = { ok: true as const, reason: "Ok", message: "fine" };

function observed(over: Partial<Observed> = {}): Observed {
  const p = policy();
  return {
    policy: p,
    pods: [],
    policies: [p],
    injection,
    keys: [],
    key: ok,
    topic: ok,
    webhook: ok,
    previous: undefined,
    now: "2026-01-02T00:00:00Z",
    ...over,
  };
}

describe("coverage", () => {
  it("counts matched, injected and ready pods and gives each uncovered pod its reason", () => {
    const pods = [
      pod("ready"),
      pod("not-ready", { sidecarReady: false }),
      pod("old", {
        injected: undefined,
        sidecarReady: undefined,
        createdAt: "2026-01-01T00:00:00Z",
      }),
      pod("failed-open", { injected: undefined, sidecarReady: undefined }),
      pod("outdated", { injected: "pay@1", injectedShape: "0123456789abcdef" }),
      pod("opted-out", { injected: undefined, sidecarReady: undefined, optedOut: true }),
      pod("other-app", { labels: { app: "x" } }),
      pod("gone", { terminating: true }),
    ];
    const c = coverage(policy(), pods, [policy()], injection);
    expect([c.matched, c.injected, c.ready]).toEqual([6, 2, 1]);
    expect(c.uncovered.map((u) => [u.pod, u.reason])).toEqual([
      ["failed-open", "NotInjected"],
      ["not-ready", "SidecarNotReady"],
      ["old", "CreatedBeforePolicy"],
      ["opted-out", "OptedOut"],
      ["outdated", "OutdatedGeneration"],
    ]);
  });

  it("counts a pod injected by an older generation with the same pod shape as covered", () => {
    const p = policy("pay", 5);
    const c = coverage(
      p,
      [pod("rotated", { injected: "pay@2", injectedShape: podShape(p) })],
      [p],
      injection,
    );
    expect([c.injected, c.ready, c.uncovered]).toEqual([1, 1, []]);
  });

  it("counts a pod as injected only if it carries the sidecar the policy injects (SidecarMismatch)", () => {
    const noSidecar = structuredClone(PARTS);
    delete noSidecar.sidecar;
    const edited = structuredClone(PARTS);
    if (edited.sidecar) edited.sidecar.container.image = "evil:1";
    const pods = [
      pod("forged", { parts: noSidecar, sidecarReady: undefined }),
      pod("edited", { parts: edited }),
    ];
    const c = coverage(policy(), pods, [policy()], injection);
    expect([c.matched, c.injected, c.ready]).toEqual([2, 0, 0]);
    expect(c.uncovered).toEqual([
      {
        pod: "edited",
        reason: "SidecarMismatch",
        message:
          'sidecar differs from what auditready-operator injects for policy pay@2: image is "evil:1", expected "auditready:0.1.0"',
      },
      {
        pod: "forged",
        reason: "SidecarMismatch",
        message:
          "sidecar differs from what auditready-operator injects for policy pay@2: the pod has no auditready-sidecar container",
      },
    ]);
  });

  it("reports a pod of the current generation with another pod shape (an older operator) as outdated", () => {
    const c = coverage(
      policy(),
      [pod("old-operator", { injectedShape: "0123456789abcdef" })],
      [policy()],
      injection,
    );
    expect(c.uncovered).toEqual([
      {
        pod: "old-operator",
        reason: "OutdatedGeneration",
        message:
          "injected with another pod shape (an older operator version); restart it to update",
      },
    ]);
  });

  it("reports a pod injected by another policy that also selects it as ConflictingPolicy", () => {
    const a = policy("a");
    const c = coverage(policy(), [pod("p", { injected: "a@1" })], [a, policy()], injection);
    expect(c.uncovered).toMatchObject([{ pod: "p", reason: "ConflictingPolicy" }]);
  });
});

describe("reconcileStatus", () => {
  it("is Ready when every step is and every matched pod is covered, with coverage n/m", () => {
    const { status, events } = reconcileStatus(observed({ pods: [pod("a"), pod("b")] }));
    expect(status.coverage).toBe("2/2");
    expect(status.observedGeneration).toBe(2);
    expect(status.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ["Ready", "True", "Covered"],
      ["KeyReady", "True", "Ok"],
      ["TopicReady", "True", "Ok"],
      ["WebhookReady", "True", "Ok"],
    ]);
    expect(events.map((e) => e.reason)).toEqual(["Covered", "Ok", "Ok", "Ok"]);
  });

  it("names the first failing step as the Ready reason", () => {
    const { status } = reconcileStatus(
      observed({ topic: { ok: false, reason: "CreateFailed", message: "no brokers" } }),
    );
    expect(status.conditions?.[0]).toMatchObject({
      status: "False",
      reason: "TopicNotReady",
      message: "no brokers",
    });
  });

  it("keeps lastTransitionTime and emits no event when nothing flipped", () => {
    const first = reconcileStatus(observed({ pods: [pod("a")] })).status;
    const again = reconcileStatus(
      observed({ pods: [pod("a")], previous: first, now: "2026-02-01T00:00:00Z" }),
    );
    expect(again.events).toEqual([]);
    expect(sameStatus(first, again.status)).toBe(true);
  });

  it("emits a Warning when pods become uncovered", () => {
    const first = reconcileStatus(observed({ pods: [pod("a")] })).status;
    const next = reconcileStatus(
      observed({ pods: [pod("a", { sidecarReady: false })], previous: first }),
    );
    expect(next.events).toEqual([
      {
        type: "Warning",
        reason: "PodsUncovered",
        message: "Ready: 1 of 1 matched pods are not covered",
      },
    ]);
    expect(next.status.coverage).toBe("0/1");
  });
});
