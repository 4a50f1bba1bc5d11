import { describe, expect, it } from "vitest";
import { sumShards } from "./status.ts";

const at = (s: number) => new Date(Date.parse("2026-12-03T10:00:00Z") + s * 1000).toISOString();
const shard = (over: Record<string, unknown> = {}) => ({
  state: "Verified",
  lastVerified: at(0),
  source: "topic audit.p (witness w, partitions %2=0)",
  messages: 10,
  streams: 2,
  errors: 0,
  warnings: 1,
  gaps: 0,
  badSignatures: 0,
  silentStreams: 0,
  message: "2 stream(s) verified, 1 warning(s)",
  ...over,
});
const now = Date.parse(at(5));

describe("sumShards: the follow-mode replicas' shards summed for the INTEGRITY column", () => {
  it("adds up fresh shards; all present and clean is Verified", () => {
    const s = sumShards(
      { "0/2": shard(), "1/2": shard({ streams: 3, messages: 5 }) },
      2,
      now,
      30_000,
    );
    expect(s).toMatchObject({ state: "Verified", streams: 5, messages: 15, warnings: 2 });
    expect(s.message).toBe("5 stream(s) verified by 2 replicas, 2 warning(s)");
    expect(s.source).toBe("topic audit.p (witness w)");
  });

  it("one failing shard fails the whole, with its message", () => {
    const s = sumShards(
      {
        "0/2": shard(),
        "1/2": shard({ state: "Failing", errors: 1, gaps: 1, message: "errors: GAP x1" }),
      },
      2,
      now,
      30_000,
    );
    expect(s).toMatchObject({ state: "Failing", errors: 1, gaps: 1, message: "errors: GAP x1" });
  });

  it("a replica that never reported, or stopped, leaves its partitions Unverified", () => {
    const absent = sumShards({ "0/2": shard() }, 2, now, 30_000);
    expect(absent).toMatchObject({ state: "Unverified", streams: 2 });
    expect(absent.message).toBe("replica(s) 1/2 not reporting");
    const old = sumShards(
      { "0/2": shard(), "1/2": shard({ lastVerified: at(-60) }) },
      2,
      now,
      30_000,
    );
    expect(old).toMatchObject({ state: "Unverified", streams: 2 });
    // A shard of another replica count (before a resize) is not counted.
    expect(sumShards({ "0/2": shard(), "1/3": shard() }, 2, now, 30_000).state).toBe("Unverified");
  });
});
