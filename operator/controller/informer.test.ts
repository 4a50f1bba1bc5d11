// The list+watch loop's recovery paths with a scripted watch (the real API server's watch cache
// will not produce a 410 on demand; test/integration/operator-informer.test.ts covers the rest
// against the real server).
import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { Informer, type ListPage, type WatchFn } from "./informer.ts";

type Obj = { metadata: { name: string; resourceVersion: string } };
const obj = (name: string, rv: string): Obj => ({ metadata: { name, resourceVersion: rv } });

function scripted(
  steps: ((emit: (type: string, o: unknown) => void, done: (err: unknown) => void) => void)[],
) {
  const params: Record<string, unknown>[] = [];
  const watch: WatchFn = async (_path, p, onEvent, onDone) => {
    params.push(p);
    const step = steps.shift();
    if (step) setTimeout(() => step(onEvent as (t: string, o: unknown) => void, onDone), 5);
    // Like client-node: aborting a watch ends it through its done callback.
    let ended = false;
    return {
      abort() {
        if (ended) return;
        ended = true;
        onDone(new DOMException("aborted", "AbortError"));
      },
    };
  };
  return { watch, params };
}

function informer(lists: ListPage[], watch: WatchFn) {
  let call = 0;
  const seen: string[] = [];
  const inf = new Informer<Obj>({
    name: "test",
    kc: new KubeConfig(),
    path: "/x",
    list: async () => lists[Math.min(call++, lists.length - 1)] as ListPage,
    transform: (raw) => raw as Obj,
    key: (o) => o.metadata.name,
    onChange: (k, o) => seen.push(`${o ? "set" : "del"} ${k}`),
    log: pino({ level: "silent" }),
    watch,
  });
  return { inf, seen, calls: () => call };
}

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(ok()).toBe(true);
};

describe("Informer", () => {
  it("relists on 410 Gone and reports what changed meanwhile, deletions included", async () => {
    const { watch, params } = scripted([
      (emit) => emit("ERROR", { kind: "Status", code: 410, reason: "Expired" }),
      (emit) => emit("ADDED", obj("c", "30")),
    ]);
    const { inf, seen, calls } = informer(
      [
        { items: [obj("a", "1"), obj("b", "2")], resourceVersion: "10" },
        { items: [obj("b", "2"), obj("d", "25")], resourceVersion: "29" },
      ],
      watch,
    );
    inf.start();
    await until(() => inf.cache.has("c"));
    inf.stop();
    expect(calls()).toBe(2);
    expect(inf.stats.gone).toBe(1);
    expect(params.map((p) => p.resourceVersion)).toEqual(["10", "29"]);
    expect([...inf.cache.keys()].sort()).toEqual(["b", "c", "d"]);
    expect(seen).toEqual(["set a", "set b", "del a", "set b", "set d", "set c"]);
  });

  it("passes its watch parameters (a label selector) on every watch", async () => {
    const { watch, params } = scripted([(_emit, done) => done(null), () => undefined]);
    let call = 0;
    const inf = new Informer<Obj>({
      name: "test",
      kc: new KubeConfig(),
      path: "/x",
      list: async () => ({ items: [], resourceVersion: String(++call) }),
      transform: (raw) => raw as Obj,
      key: (o) => o.metadata.name,
      onChange: () => undefined,
      log: pino({ level: "silent" }),
      watch,
      watchParams: { labelSelector: "team=a" },
    });
    inf.start();
    await until(() => params.length === 2);
    inf.stop();
    expect(params.map((p) => p.labelSelector)).toEqual(["team=a", "team=a"]);
  });

  it("relists on resync(), keeping only what transform() now keeps and deleting the rest", async () => {
    let keep = new Set(["a"]);
    const { watch } = scripted([() => undefined, () => undefined]);
    let call = 0;
    const seen: string[] = [];
    const inf = new Informer<Obj>({
      name: "test",
      kc: new KubeConfig(),
      path: "/x",
      list: async () => ({
        items: [obj("a", "1"), obj("b", "2")],
        resourceVersion: String(++call),
      }),
      transform: (raw) => (keep.has((raw as Obj).metadata.name) ? (raw as Obj) : undefined),
      key: (o) => o.metadata.name,
      onChange: (k, o) => seen.push(`${o ? "set" : "del"} ${k}`),
      log: pino({ level: "silent" }),
      watch,
    });
    inf.start();
    await until(() => inf.cache.has("a"));
    keep = new Set(["b"]);
    inf.resync();
    await until(() => inf.cache.has("b"));
    inf.stop();
    expect([...inf.cache.keys()]).toEqual(["b"]);
    expect(seen).toEqual(["set a", "del a", "set b"]);
  });

  it("refuses a list function that ignores the continue token instead of looping on page one", async () => {
    const { watch } = scripted([]);
    const { inf } = informer(
      [{ items: [obj("a", "1")], resourceVersion: "5", continue: "tok" }],
      watch,
    );
    inf.start();
    await until(() => inf.stats.errors >= 1);
    inf.stop();
    expect(inf.stats.lists).toBe(0);
  });

  it("resumes from the last resourceVersion (bookmarks included) when a watch ends, without relisting", async () => {
    const { watch, params } = scripted([
      (emit, done) => {
        emit("ADDED", obj("a", "11"));
        emit("BOOKMARK", { metadata: { resourceVersion: "15" } });
        done(null);
      },
      (emit) => emit("MODIFIED", obj("a", "16")),
    ]);
    const { inf, calls } = informer([{ items: [], resourceVersion: "10" }], watch);
    inf.start();
    await until(() => inf.cache.get("a")?.metadata.resourceVersion === "16");
    inf.stop();
    expect(calls()).toBe(1);
    expect(params.map((p) => p.resourceVersion)).toEqual(["10", "15"]);
  });

  it("treats the client's idle-watch timeout as a quiet watch: resumes at once, no error", async () => {
    const timeout = new DOMException("The operation was aborted due to timeout", "TimeoutError");
    const { watch, params } = scripted([
      (_emit, done) => done(timeout),
      (_emit, done) => done(timeout),
      (emit) => emit("ADDED", obj("q", "11")),
    ]);
    const { inf } = informer([{ items: [], resourceVersion: "10" }], watch);
    inf.start();
    await until(() => inf.cache.has("q"));
    inf.stop();
    expect([inf.stats.errors, inf.stats.silent]).toEqual([0, 2]);
    expect(params.map((p) => p.resourceVersion)).toEqual(["10", "10", "10"]);
  });

  it("backs off and retries after a failed watch, keeping its place", async () => {
    const { watch, params } = scripted([
      (_emit, done) => done(new Error("connection reset")),
      (emit) => emit("ADDED", obj("z", "12")),
    ]);
    const { inf, calls } = informer([{ items: [], resourceVersion: "10" }], watch);
    inf.start();
    await until(() => inf.cache.has("z"));
    inf.stop();
    expect(inf.stats.errors).toBe(1);
    expect(calls()).toBe(1);
    expect(params.map((p) => p.resourceVersion)).toEqual(["10", "10"]);
  });
});
