import { describe, expect, it } from "vitest";
import { WorkQueue } from "./queue.ts";

describe("WorkQueue", () => {
  it("hands out a key once however often it is added", async () => {
    const q = new WorkQueue();
    q.add("a");
    q.add("b");
    q.add("a");
    expect(q.length).toBe(2);
    expect(await q.get()).toBe("a");
    expect(await q.get()).toBe("b");
    expect(q.length).toBe(0);
  });

  it("never gives a key in progress to a second worker, and requeues it if it changed meanwhile", async () => {
    const q = new WorkQueue();
    q.add("a");
    const key = await q.get();
    q.add("a");
    expect(q.length).toBe(0);
    q.done(key as string);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe("a");
  });

  it("wakes a waiting worker when a key arrives", async () => {
    const q = new WorkQueue();
    const next = q.get();
    q.add("x");
    expect(await next).toBe("x");
  });

  it("backs off exponentially per key and resets on forget", () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 50 });
    expect([1, 2, 3, 4].map(() => q.addRateLimited("k"))).toEqual([10, 20, 40, 50]);
    q.forget("k");
    expect(q.addRateLimited("k")).toBe(10);
    q.shutdown();
  });

  it("caps the overall rate with a token bucket", async () => {
    const q = new WorkQueue({ qps: 50, burst: 1 });
    for (const k of ["a", "b", "c"]) q.add(k);
    const started = Date.now();
    for (let i = 0; i < 3; i++) q.done((await q.get()) as string);
    expect(Date.now() - started).toBeGreaterThanOrEqual(30);
  });

  it("releases waiting workers on shutdown", async () => {
    const q = new WorkQueue();
    const next = q.get();
    q.shutdown();
    expect(await next).toBeUndefined();
  });
});
