// The rules on their own, without a stream around them.
import { describe, expect, it } from "vitest";
import type { FindingCode } from "../findings.ts";
import { checkLiveness } from "./liveness.ts";
import { retentionExplains, vanishedTree } from "./retention.ts";

const DAY = 86_400_000;
const T = Date.parse("2026-11-23T10:00:00.000Z");

function collect() {
  const found: FindingCode[] = [];
  return { found, report: (code: FindingCode) => found.push(code) };
}

describe("retention", () => {
  it("explains a loss only of what was sealed before the horizon, give or take the skew", () => {
    expect(retentionExplains(T, T + 8 * DAY, 7 * DAY)).toBe(true);
    expect(retentionExplains(T, T + 6 * DAY, 7 * DAY)).toBe(false);
    expect(retentionExplains(T + 60_000, T + 7 * DAY, 7 * DAY)).toBe(true);
    expect(retentionExplains(T, T + 365 * DAY, undefined)).toBe(false);
  });

  it("a vanished tree is a GAP unless retention explains it", () => {
    const tree = {
      genesis: 1,
      epoch: 1,
      size: 21,
      root: "",
      range: [],
      checkpointTime: new Date(T).toISOString(),
      ended: false,
      keyId: "",
      keys: {},
    };
    expect(vanishedTree(tree, T + DAY, 7 * DAY).code).toBe("GAP");
    expect(vanishedTree(tree, T + 8 * DAY, 7 * DAY).code).toBe("HEAD_TRUNCATED");
  });
});

describe("liveness", () => {
  const last = { epoch: 1, ended: false, heartbeatMs: 30_000 };
  it("is STALE past heartbeat + grace, and only then", () => {
    const newest = new Date(T).toISOString();
    const fresh = collect();
    checkLiveness(T + 89_000, 60_000, last, newest, fresh.report);
    expect(fresh.found).toEqual([]);
    const stale = collect();
    checkLiveness(T + 91_000, 60_000, last, newest, stale.report);
    expect(stale.found).toEqual(["STALE"]);
  });

  it("says nothing of an ended stream, or with liveness off", () => {
    const newest = new Date(T).toISOString();
    const c = collect();
    checkLiveness(T + DAY, 60_000, { ...last, ended: true }, newest, c.report);
    checkLiveness(undefined, 60_000, last, newest, c.report);
    expect(c.found).toEqual([]);
  });
});
