// The operator's own list+watch loop (the client library's informer restarts on a timer, loses
// events after a restart and floods the server). It lists, then watches from the list's
// resourceVersion; resumes from the last resourceVersion seen (bookmarks included) when a
// watch ends; relists on 410 Gone; treats a watch silent for longer than silentMs as dead; and
// backs off exponentially on errors. The cache holds only what transform() keeps (the pods of
// namespaces with a policy, a few hundred bytes each, not the full object); resync() relists
// when that choice changes.
import { type KubeConfig, Watch } from "@kubernetes/client-node";
import type { Logger } from "pino";

export interface ListPage {
  items: unknown[];
  resourceVersion: string;
  continue?: string;
}

/** The watch call, as client-node's Watch.watch has it; tests of the loop pass a scripted one. */
export type WatchFn = (
  path: string,
  params: Record<string, string | number | boolean | undefined>,
  // biome-ignore lint/suspicious/noExplicitAny: client-node types watch objects as any.
  onEvent: (type: string, obj: any) => void,
  onDone: (err: unknown) => void,
) => Promise<{ abort(): void }>;

export interface InformerOptions<T> {
  name: string;
  kc: KubeConfig;
  /** Watch path, e.g. /api/v1/pods. */
  path: string;
  list: (opts: { limit: number; continue?: string }) => Promise<ListPage>;
  /** Strips an object to what the controller reads; undefined drops it from the cache. */
  transform: (raw: unknown) => T | undefined;
  key: (obj: T) => string;
  onChange: (key: string, obj: T | undefined, old: T | undefined) => void;
  log: Logger;
  silentMs?: number;
  pageSize?: number;
  /** Extra watch query parameters, e.g. labelSelector (the list function applies its own). */
  watchParams?: Record<string, string>;
  watch?: WatchFn;
}

export class WatchGoneError extends Error {
  readonly kind = "WatchGone";
}

export class Informer<T> {
  readonly cache = new Map<string, T>();
  private resourceVersion: string | undefined;
  private abort: { abort(): void } | undefined;
  private stopped = false;
  private resyncWanted = false;
  private syncedResolve: (() => void) | undefined;
  readonly synced: Promise<void>;
  /** Counters, for tests and metrics: lists done, watches started, 410s seen. */
  readonly stats = { lists: 0, watches: 0, gone: 0, silent: 0, errors: 0 };
  private readonly opts: InformerOptions<T>;

  constructor(opts: InformerOptions<T>) {
    this.opts = opts;
    this.synced = new Promise((r) => {
      this.syncedResolve = r;
    });
  }

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  /**
   * Lists again (and then watches from there) because what transform() keeps has changed, e.g.
   * pods of a namespace that just got its first policy. Objects the new list no longer keeps
   * are reported as deleted.
   */
  resync(): void {
    this.resyncWanted = true;
    this.abort?.abort();
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        while (this.resourceVersion === undefined || this.resyncWanted) {
          this.resyncWanted = false;
          await this.relist();
        }
        await this.watch();
        failures = 0;
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof WatchGoneError) {
          this.stats.gone++;
          this.resourceVersion = undefined;
          this.opts.log.info({ informer: this.opts.name }, "watch expired (410 Gone): relisting");
          continue;
        }
        this.stats.errors++;
        const delay = Math.min(30_000, 200 * 2 ** failures++);
        this.opts.log.warn(
          { informer: this.opts.name, err: String(err), delay },
          "list/watch failed",
        );
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async relist(): Promise<void> {
    const seen = new Map<string, T>();
    let cont: string | undefined;
    let rv = "";
    do {
      const page = await this.opts.list({
        limit: this.opts.pageSize ?? 500,
        ...(cont !== undefined && { continue: cont }),
      });
      for (const raw of page.items) {
        const obj = this.opts.transform(raw);
        if (obj !== undefined) seen.set(this.opts.key(obj), obj);
      }
      rv = page.resourceVersion;
      const next = page.continue || undefined;
      // A list function that ignores the token would hand back page one forever.
      if (next !== undefined && next === cont)
        throw new Error("list returned the same continue token twice");
      cont = next;
    } while (cont !== undefined);
    this.stats.lists++;
    for (const [key, old] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.opts.onChange(key, undefined, old);
      }
    }
    for (const [key, obj] of seen) {
      const old = this.cache.get(key);
      this.cache.set(key, obj);
      this.opts.onChange(key, obj, old);
    }
    this.resourceVersion = rv;
    this.syncedResolve?.();
  }

  private async watch(): Promise<void> {
    this.stats.watches++;
    const silentMs = this.opts.silentMs ?? 5 * 60_000;
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.abort?.abort();
        if (err) reject(err);
        else resolve();
      };
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          this.stats.silent++;
          this.opts.log.info({ informer: this.opts.name }, "watch silent: restarting it");
          finish();
        }, silentMs);
      };
      arm();
      const watch: WatchFn =
        this.opts.watch ?? ((...args) => new Watch(this.opts.kc).watch(...args));
      watch(
        this.opts.path,
        {
          ...this.opts.watchParams,
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: Math.max(1, Math.floor(silentMs / 1000) + 60),
        },
        (type: string, obj: { metadata?: { resourceVersion?: string }; code?: number }) => {
          arm();
          if (type === "ERROR") {
            finish(
              obj.code === 410 ? new WatchGoneError("410 Gone") : new Error(JSON.stringify(obj)),
            );
            return;
          }
          const rv = obj.metadata?.resourceVersion;
          if (type !== "BOOKMARK") this.apply(type, obj);
          if (rv) this.resourceVersion = rv;
        },
        (err: unknown) => {
          const code = (err as { statusCode?: number; code?: number } | null)?.statusCode;
          const name = (err as { name?: string } | null)?.name;
          if (code === 410) finish(new WatchGoneError("410 Gone"));
          // client-node ends a watch idle for 30 s with a TimeoutError: a quiet resource, not a
          // failure, so resume from the last resourceVersion at once, without backoff.
          else if (name === "TimeoutError") {
            this.stats.silent++;
            finish();
          } else if (err && name !== "AbortError") finish(err);
          else finish();
        },
      ).then(
        (controller) => {
          this.abort = controller;
          // A resync asked for while this watch was being set up ends it now.
          if (settled || this.resyncWanted) controller.abort();
        },
        (err: unknown) => {
          const code =
            (err as { code?: number; statusCode?: number }).statusCode ??
            (err as { code?: number }).code;
          finish(code === 410 ? new WatchGoneError("410 Gone") : err);
        },
      );
    });
  }

  private apply(type: string, raw: unknown): void {
    const obj = this.opts.transform(raw);
    if (obj === undefined) return;
    const key = this.opts.key(obj);
    const old = this.cache.get(key);
    if (type === "DELETED") this.cache.delete(key);
    else this.cache.set(key, obj);
    this.opts.onChange(key, type === "DELETED" ? undefined : obj, old);
  }
}
