// Reload on change. A ConfigMap volume updates by swapping a `..data` symlink, which a watch
// on the file itself never sees, so this watches the file's directory and also re-reads on a
// timer, and acts only when the bytes differ. A new file that fails validation is rejected
// and the running config stays in force: a bad edit never stops a sidecar that is shipping.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { type FSWatcher, watch } from "chokidar";
import { messageOf, SidecarError } from "../errors.ts";
import { parseConfig } from "./load.ts";
import type { SidecarConfig } from "./schema.ts";

export interface ConfigWatchHandlers {
  changed(next: SidecarConfig): void | Promise<void>;
  rejected(error: SidecarError): void;
}

export interface ConfigWatcher {
  /** Re-reads now; resolves when the file was compared (and applied or rejected). */
  check(): Promise<void>;
  close(): Promise<void>;
}

export function watchConfig(
  path: string,
  initialText: string,
  handlers: ConfigWatchHandlers,
  opts: { intervalMs?: number } = {},
): ConfigWatcher {
  let lastHash = digest(initialText);
  let running: Promise<void> = Promise.resolve();
  let closed = false;

  const check = (): Promise<void> => {
    running = running.then(async () => {
      if (closed) return;
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch (err) {
        // Mid-swap or deleted: keep the running config and say so once per distinct failure.
        const hash = `unreadable:${messageOf(err)}`;
        if (hash === lastHash) return;
        lastHash = hash;
        handlers.rejected(
          new SidecarError("config", `config ${path}: cannot read: ${messageOf(err)}`, {
            retriable: true,
            cause: err,
          }),
        );
        return;
      }
      const hash = digest(text);
      if (hash === lastHash) return;
      lastHash = hash;
      let next: SidecarConfig;
      try {
        next = parseConfig(text, path);
      } catch (err) {
        if (!(err instanceof SidecarError)) throw err;
        handlers.rejected(err);
        return;
      }
      await handlers.changed(next);
    });
    // A failing handler must not break the chain of later checks (nor go unhandled).
    running = running.catch((err: unknown) =>
      handlers.rejected(
        err instanceof SidecarError
          ? err
          : new SidecarError("config", `applying ${path}: ${messageOf(err)}`, {
              retriable: false,
              cause: err,
            }),
      ),
    );
    return running;
  };

  const watcher: FSWatcher = watch(dirname(path), {
    depth: 0,
    ignoreInitial: true,
    atomic: false,
    followSymlinks: false,
  });
  watcher.on("all", () => void check());
  watcher.on("error", (err) =>
    handlers.rejected(
      new SidecarError("config", `watching ${dirname(path)}: ${messageOf(err)}`, {
        retriable: true,
        cause: err,
      }),
    ),
  );
  const timer = setInterval(() => void check(), opts.intervalMs ?? 5_000);
  timer.unref();

  return {
    check,
    async close() {
      closed = true;
      clearInterval(timer);
      await watcher.close();
      await running;
    },
  };
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
