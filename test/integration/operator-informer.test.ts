// The operator's own list+watch loop against the real API server: a watch that goes silent is
// restarted from the last resourceVersion without a relist, and no event is lost. (410 Gone
// cannot be provoked on demand here, the watch cache replays instead: informer.test.ts covers
// the relist with a scripted watch.)
import { CoreV1Api } from "@kubernetes/client-node";
import { pino } from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { Informer, type ListPage } from "../../operator/controller/informer.ts";
import { adminConfig, createNamespace, runId, until } from "./operator-support.ts";

const kc = adminConfig();
const core = kc.makeApiClient(CoreV1Api);
const namespace = `informer-${runId()}`;
const log = pino({ level: process.env.AUDITREADY_TEST_LOG ?? "silent" });
let informer: Informer<string> | undefined;

function configMaps(listHook: (page: ListPage) => ListPage, silentMs?: number) {
  const seen: string[] = [];
  informer = new Informer<string>({
    name: "configmaps",
    kc,
    path: `/api/v1/namespaces/${namespace}/configmaps`,
    list: async (opts) => {
      const l = await core.listNamespacedConfigMap({
        namespace,
        limit: opts.limit,
        ...(opts.continue !== undefined && { _continue: opts.continue }),
      });
      const page: ListPage = {
        items: l.items,
        resourceVersion: l.metadata?.resourceVersion ?? "",
        ...(l.metadata?._continue && { continue: l.metadata._continue }),
      };
      return listHook(page);
    },
    transform: (raw) => (raw as { metadata?: { name?: string } }).metadata?.name,
    key: (name) => name,
    onChange: (key, obj) => seen.push(`${obj ? "set" : "del"} ${key}`),
    log,
    ...(silentMs !== undefined && { silentMs }),
    pageSize: 2,
  });
  informer.start();
  return { informer, seen };
}

const createConfigMap = (name: string) =>
  core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data: { a: "1" } } });

describe("the informer's list+watch loop", () => {
  beforeAll(async () => {
    await createNamespace(kc, namespace);
    await createConfigMap("before");
  });
  afterEach(() => informer?.stop());

  it("restarts a silent watch from the last resourceVersion, without relisting", async () => {
    const { informer } = configMaps((page) => page, 700);
    await informer.synced;
    await until(
      "silent watch restarted twice",
      async () => (informer.stats.silent >= 2 ? true : undefined),
      10_000,
      50,
    );
    await createConfigMap("after-silence");
    await until(
      "new object seen",
      async () => (informer.cache.has("after-silence") ? true : undefined),
      10_000,
      50,
    );
    expect(informer.stats.lists).toBe(1);
    expect(informer.stats.watches).toBeGreaterThanOrEqual(3);
  });

  it("lists in pages (two objects a page here) and gets every object", async () => {
    for (const n of ["p1", "p2", "p3", "p4"]) await createConfigMap(n);
    const { informer } = configMaps((page) => page);
    await informer.synced;
    expect([...informer.cache.keys()].sort()).toEqual(
      expect.arrayContaining(["after-silence", "before", "p1", "p2", "p3", "p4"]),
    );
  });

  it("sees deletions", async () => {
    const { informer, seen } = configMaps((page) => page);
    await informer.synced;
    await core.deleteNamespacedConfigMap({ namespace, name: "before" });
    await until(
      "deletion seen",
      async () => (seen.includes("del before") ? true : undefined),
      10_000,
      50,
    );
    expect(informer.cache.has("before")).toBe(false);
  });
});
