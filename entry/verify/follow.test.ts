// Follow mode verifies a stream round by round, as the topic grows, and must reach what one
// run over the whole stream reaches: the same trusted size, no finding, and a loss between
// rounds still caught.
import { describe, expect, it } from "vitest";
import { FollowVerifier } from "./follow.ts";
import { asInput, Clock, StreamBuilder, T0, verifyMessages } from "./testing.ts";

const MIN = 60_000;

function rounds<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

describe("FollowVerifier", () => {
  const clock = new Clock(T0);
  const b = new StreamBuilder({ clock }).logs(95);
  b.rotateKey().logs(40);
  b.push(b.sealer.end("SIGTERM"));
  const input = asInput(b.messages);
  const whole = verifyMessages(b.messages, b.trustedKeys(), { asOf: T0 + MIN });

  it("round by round (cut anywhere, even between a record and its checkpoint) = one whole run", () => {
    for (const size of [1, 7, 13, 50]) {
      const f = new FollowVerifier({ trustedKeys: b.trustedKeys(), graceMs: MIN });
      const cosigned: number[] = [];
      for (const r of rounds(input, size)) {
        const { report, verified } = f.round(r, T0 + MIN);
        expect(report.counts.error, `rounds of ${size}`).toBe(0);
        for (const v of verified) {
          cosigned.push(v.size);
          f.markCosigned(v.origin, report.state.origins[v.origin]?.trees[0]?.genesis ?? -1, v.size);
        }
      }
      const tree = whole.state.origins[b.origin]?.trees[0];
      expect(cosigned.at(-1)).toBe(tree?.size);
      expect(cosigned).toEqual([...cosigned].sort((x, y) => x - y));
      expect(new Set(cosigned).size).toBe(cosigned.length);
    }
  });

  it("records missing between two rounds are a GAP, and nothing past them is cosigned", () => {
    const f = new FollowVerifier({ trustedKeys: b.trustedKeys(), graceMs: MIN });
    const first = f.round(input.slice(0, 40), T0 + MIN);
    const before = first.verified.at(-1)?.size ?? 0;
    f.markCosigned(b.origin, first.report.state.origins[b.origin]?.trees[0]?.genesis ?? 0, before);
    const r = f.round(input.slice(45), T0 + MIN);
    expect(r.report.ok).toBe(false);
    expect(r.report.streams[0]?.findings.map((f) => f.code)).toContain("GAP");
    expect(r.verified).toEqual([]);
  });

  it("a stream that falls silent is STALE on a later round that brings it nothing", () => {
    const live = new StreamBuilder({ clock: new Clock(T0), origin: "t/ns/p/c/f.log" }).logs(10);
    const f = new FollowVerifier({ trustedKeys: live.trustedKeys(), graceMs: MIN });
    expect(f.round(asInput(live.messages), T0 + MIN).report.ok).toBe(true);
    const later = f.round([], T0 + 10 * MIN);
    expect(later.report.streams[0]?.findings.map((x) => x.code)).toEqual(["STALE"]);
  });
});
