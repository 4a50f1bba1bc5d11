// Rule: liveness. A stream that has not ended promises a checkpoint at least every heartbeat;
// when its newest counted checkpoint (never one dated in the future: those do not count) is
// older than heartbeat + grace by the verifier's clock, the stream is STALE.
import type { Report } from "../findings.ts";

const DEFAULT_HEARTBEAT_MS = 30_000;

export function checkLiveness(
  now: number | undefined,
  graceMs: number,
  last: { epoch: number; ended: boolean; heartbeatMs: number | undefined } | undefined,
  newestTime: string | undefined,
  report: Report,
): void {
  if (now === undefined || !last || last.ended || newestTime === undefined) return;
  const heartbeat = last.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const age = now - Date.parse(newestTime);
  if (age > heartbeat + graceMs) {
    report(
      "STALE",
      `newest checkpoint is ${Math.round(age / 1000)} s old (heartbeat ${heartbeat / 1000} s) and the stream has not ended`,
      { epoch: last.epoch },
    );
  }
}
