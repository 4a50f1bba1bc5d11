// Why a running sidecar is not ready, in its own words: its /readyz answers 503 with the reasons
// (a log file it may not read, a sink it cannot reach). The kubelet's probe keeps only the status
// code, so the operator asks the not-ready sidecars of a policy, briefly and a few at a time,
// and puts the reasons into the policy's status.uncovered. Unreachable (a NetworkPolicy, the pod
// going away): the message stays the generic one.
import { request } from "node:http";
import type { UncoveredPod } from "../api/policy.ts";
import { SIDECAR_PORT } from "../names.ts";
import type { PodView } from "../podview.ts";

const MAX_ASKED = 20;
const TIMEOUT_MS = 1_500;

export type ReadyzFetch = (ip: string) => Promise<string | undefined>;

/** The reasons a sidecar's /readyz gives, joined; undefined when it cannot be asked. */
export const fetchReadyz: ReadyzFetch = (ip) =>
  new Promise((resolve) => {
    const req = request(
      { host: ip, port: SIDECAR_PORT, path: "/readyz", timeout: TIMEOUT_MS, agent: false },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => {
          if (body.length < 4_096) body += c.toString();
        });
        res.on("end", () => {
          try {
            const r = JSON.parse(body) as { reasons?: unknown };
            const reasons = Array.isArray(r.reasons) ? r.reasons.map(String) : [];
            resolve(reasons.length > 0 ? reasons.join("; ") : undefined);
          } catch {
            resolve(undefined);
          }
        });
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.end();
  });

/** status.uncovered with each running-but-not-ready sidecar's own reasons added. */
export async function withSidecarReasons(
  uncovered: readonly UncoveredPod[],
  pods: readonly PodView[],
  fetch: ReadyzFetch = fetchReadyz,
): Promise<UncoveredPod[]> {
  const byName = new Map(pods.map((p) => [p.name, p]));
  let asked = 0;
  return Promise.all(
    uncovered.map(async (u) => {
      const pod = byName.get(u.pod);
      if (u.reason !== "SidecarNotReady" || !pod?.podIP || pod.sidecarProblem) return u;
      if (asked++ >= MAX_ASKED) return u;
      const reasons = await fetch(pod.podIP);
      return reasons ? { ...u, message: `${u.message ?? "not ready"}: ${reasons}` } : u;
    }),
  );
}
