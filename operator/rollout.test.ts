import { describe, expect, it } from "vitest";
import { AuditPolicySpec, type Policy } from "./api/policy.ts";
import type { PodView } from "./podview.ts";
import { ownersToRestart } from "./rollout.ts";

const policy = (restart: string[]): Policy => ({
  name: "p",
  namespace: "ns",
  uid: "u",
  generation: 1,
  creationTimestamp: "2026-01-01T00:00:00Z",
  spec: AuditPolicySpec.parse({
    selector: {},
    source: { paths: ["/l/a.log"], format: "json" },
    sink: { kafka: { brokers: ["k:1"], topic: "t" } },
    rollout: { restart },
  }),
});

const pod = (name: string, owner?: { kind: string; name: string }): PodView => ({
  namespace: "ns",
  name,
  uid: name,
  labels: {},
  optedOut: false,
  createdAt: "2026-01-01T00:00:00Z",
  containers: ["api"],
  terminating: false,
  ...(owner && { owner }),
});

describe("ownersToRestart", () => {
  const pods = [
    pod("a", { kind: "ReplicaSet", name: "web-1" }),
    pod("b", { kind: "ReplicaSet", name: "web-1" }),
    pod("c", { kind: "StatefulSet", name: "db" }),
    pod("d", { kind: "Job", name: "batch" }),
    pod("e"),
  ];
  const uncovered = [
    { pod: "a", reason: "CreatedBeforePolicy" as const },
    { pod: "b", reason: "CreatedBeforePolicy" as const },
    { pod: "c", reason: "OutdatedGeneration" as const },
    { pod: "d", reason: "CreatedBeforePolicy" as const },
    { pod: "e", reason: "CreatedBeforePolicy" as const },
  ];

  it("restarts nothing by default: the policy only reports", () => {
    expect(ownersToRestart(policy([]), uncovered, pods)).toEqual([]);
  });

  it("picks each owning workload once, for the reasons asked, never Jobs or bare pods", () => {
    expect(ownersToRestart(policy(["CreatedBeforePolicy"]), uncovered, pods)).toEqual([
      { kind: "ReplicaSet", name: "web-1" },
    ]);
    expect(
      ownersToRestart(policy(["CreatedBeforePolicy", "OutdatedGeneration"]), uncovered, pods),
    ).toEqual([
      { kind: "ReplicaSet", name: "web-1" },
      { kind: "StatefulSet", name: "db" },
    ]);
  });

  it("ignores uncovered reasons a restart would not fix", () => {
    expect(
      ownersToRestart(policy(["NotInjected"]), [{ pod: "a", reason: "SidecarNotReady" }], pods),
    ).toEqual([]);
  });
});
