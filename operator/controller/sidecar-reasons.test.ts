// status.uncovered gets a running but not ready sidecar's own reasons (its /readyz), and only
// those: pods with another reason, a known container problem, or no address are not asked.
import { describe, expect, it } from "vitest";
import type { PodView } from "../podview.ts";
import { withSidecarReasons } from "./sidecar-reasons.ts";

const pod = (name: string, over: Partial<PodView> = {}): PodView => ({
  namespace: "ns",
  name,
  uid: name,
  labels: {},
  optedOut: false,
  createdAt: "2026-12-03T00:00:00.000Z",
  containers: ["app"],
  terminating: false,
  sidecarReady: false,
  ...over,
});

describe("withSidecarReasons", () => {
  it("adds the sidecar's reasons to SidecarNotReady, asking only running sidecars with an address", async () => {
    const asked: string[] = [];
    const fetch = async (ip: string) => {
      asked.push(ip);
      return ip === "10.0.0.1"
        ? "log file not readable: /var/log/app/app/access.log (EACCES)"
        : undefined;
    };
    const out = await withSidecarReasons(
      [
        {
          pod: "a",
          reason: "SidecarNotReady",
          message: "the auditready-sidecar container is not ready",
        },
        { pod: "b", reason: "SidecarNotReady", message: "x" },
        { pod: "c", reason: "SidecarNotReady", message: "not ready: ErrImageNeverPull" },
        { pod: "d", reason: "CreatedBeforePolicy", message: "old" },
        { pod: "e", reason: "SidecarNotReady", message: "y" },
      ],
      [
        pod("a", { podIP: "10.0.0.1" }),
        pod("b", { podIP: "10.0.0.2" }),
        pod("c", { podIP: "10.0.0.3", sidecarProblem: "ErrImageNeverPull" }),
        pod("d", { podIP: "10.0.0.4" }),
        pod("e"),
      ],
      fetch,
    );
    expect(out[0]?.message).toBe(
      "the auditready-sidecar container is not ready: log file not readable: /var/log/app/app/access.log (EACCES)",
    );
    expect(out.slice(1).map((u) => u.message)).toEqual([
      "x",
      "not ready: ErrImageNeverPull",
      "old",
      "y",
    ]);
    expect(asked.sort()).toEqual(["10.0.0.1", "10.0.0.2"]);
  });
});
