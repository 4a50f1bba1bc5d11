// auditready-sidecar: wiring only. Reads the config and the pod identity, starts the ops
// server and the pipeline, reloads on config change (the normalize section in place; anything
// else by a drained restart of the pipeline, which resumes from the saved positions), and on
// SIGTERM drains within AUDITREADY_GRACE_MS. A start-up error exits 1 with one log line; sink
// failures never exit (they show on /readyz and in the metrics).
import { readFile } from "node:fs/promises";
import { isDeepStrictEqual } from "node:util";
import { helpText } from "./config/help.ts";
import { configPathFrom, identityFromEnv } from "./config/identity.ts";
import { parseConfig } from "./config/load.ts";
import type { SidecarConfig } from "./config/schema.ts";
import { watchConfig } from "./config/watch.ts";
import { isSidecarError, messageOf, SidecarError } from "./errors.ts";
import { Events } from "./ops/events.ts";
import { startOpsServer } from "./ops/server.ts";
import { Pipeline } from "./pipeline.ts";
import { routeProcessWarnings } from "./sink/process-warnings.ts";

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${helpText()}\n`);
    return 0;
  }
  const events = new Events({ level: process.env.AUDITREADY_LOG_LEVEL ?? "info" });
  // Node's process warnings as JSON log lines, like every other line the sidecar prints.
  routeProcessWarnings((w) =>
    events.logger.warn({ event: "node-warning", warning: w.name }, w.message),
  );
  const graceMs = Number(process.env.AUDITREADY_GRACE_MS ?? 25_000);
  try {
    const path = configPathFrom(argv);
    const identity = identityFromEnv();
    const text = await readFile(path, "utf8");
    let config = parseConfig(text, path);
    let pipeline = await Pipeline.start(config, identity, events);
    const server = await startOpsServer({
      host: config.server.host,
      port: config.server.port,
      events,
      readiness: () => pipeline.readiness(),
    });
    const watcher = watchConfig(path, text, {
      changed: async (next: SidecarConfig) => {
        // A rotated policy key needs nothing here: the operator signs the next renewal with it.
        if (
          isDeepStrictEqual({ ...next, normalize: config.normalize, policy: config.policy }, config)
        ) {
          pipeline.applyInPlace(next);
        } else {
          await pipeline.stop("reload", graceMs);
          try {
            pipeline = await Pipeline.start(next, identity, events);
          } catch (err) {
            // Valid on paper but unusable (a key file missing...): back to the running config.
            events.emit({ type: "config-rejected", error: asSidecarError(err) });
            pipeline = await Pipeline.start(config, identity, events);
            return;
          }
        }
        config = next;
        events.emit({ type: "config-reloaded", generation: next.policy.generation });
      },
      rejected: (error) => events.emit({ type: "config-rejected", error }),
    });
    const signal = await new Promise<string>((resolve) => {
      process.once("SIGTERM", () => resolve("SIGTERM"));
      process.once("SIGINT", () => resolve("SIGINT"));
    });
    events.emit({ type: "stopping", signal });
    await watcher.close();
    const drained = await pipeline.stop("shutdown", graceMs);
    await server.close();
    events.emit({ type: "stopped", drained });
    return drained ? 0 : 2;
  } catch (err) {
    const fields = isSidecarError(err)
      ? { kind: err.kind, retriable: err.retriable, error: err.message }
      : { kind: "internal", error: messageOf(err) };
    events.logger.fatal({ event: "start-failed", ...fields }, "sidecar cannot start");
    return 1;
  }
}

function asSidecarError(err: unknown): SidecarError {
  return isSidecarError(err)
    ? err
    : new SidecarError("config", messageOf(err), { retriable: false, cause: err });
}

process.exitCode = await main(process.argv.slice(2));
