// The operator's view of a pod keeps why a sidecar is not running, in the kubelet's words, so
// the policy's status names it (an image the node does not have, a crash) instead of "not ready".
import { describe, expect, it } from "vitest";
import { SIDECAR_CONTAINER } from "./names.ts";
import { toPodView } from "./podview.ts";

const pod = (status: Record<string, unknown>) => ({
  metadata: { name: "p", namespace: "ns", annotations: { "auditready.dev/injected": "x@1" } },
  spec: { containers: [{ name: "app" }], initContainers: [{ name: SIDECAR_CONTAINER }] },
  status: { initContainerStatuses: [{ name: SIDECAR_CONTAINER, ...status }] },
});

describe("toPodView", () => {
  it("says why the sidecar waits: an image the node does not have", () => {
    const view = toPodView(
      pod({
        ready: false,
        state: {
          waiting: {
            reason: "ErrImageNeverPull",
            message: 'Container image "auditready:9.9.9" is not present with pull policy of Never',
          },
        },
      }),
    );
    expect(view?.sidecarReady).toBe(false);
    expect(view?.sidecarProblem).toBe(
      'ErrImageNeverPull: Container image "auditready:9.9.9" is not present with pull policy of Never',
    );
  });

  it("says how a crash-looping sidecar last ended, with its termination message", () => {
    const view = toPodView(
      pod({
        ready: false,
        state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 10s" } },
        lastState: {
          terminated: { reason: "Error", exitCode: 2, message: "POD_SERVICE_ACCOUNT: missing\n" },
        },
      }),
    );
    expect(view?.sidecarProblem).toBe(
      "CrashLoopBackOff: back-off 10s; last ended Error (exit 2): POD_SERVICE_ACCOUNT: missing",
    );
  });

  it("has no problem for a ready sidecar, nor for one running but not ready yet", () => {
    expect(toPodView(pod({ ready: true, state: { running: {} } }))?.sidecarProblem).toBeUndefined();
    expect(
      toPodView(pod({ ready: false, state: { running: {} } }))?.sidecarProblem,
    ).toBeUndefined();
  });
});
