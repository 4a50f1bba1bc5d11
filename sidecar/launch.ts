// V8 heap settings for the sidecar process. Node sizes its heap for a server with memory to
// spare (16 MiB semi-spaces, an old space that grows lazily under a high allocation rate), which
// took the sidecar to 210 MB RSS at 10,000 lines/s and 320 MB with a backlog (over the pod's
// 256 Mi limit) though its live heap is ~11 MB (batches, read-ahead and the spool are bounded).
// With these flags: ~130 MB and ~160 MB, for ~20% more CPU per line (more GC); measured with
// `npm run bench:sidecar` and `SIDECAR_NODE_OPTIONS`. These flags must be given when the process starts, and
// the operator starts the sidecar as `node sidecar/main.ts`; so main.ts re-executes itself once
// with them (process.execve: the same process id, signals and file descriptors, before anything
// else is loaded). Flags already given (on the command line or in NODE_OPTIONS) win;
// AUDITREADY_NODE_FLAGS replaces the defaults ("" for none). The same re-execution makes the new
// process run the sidecar as JavaScript (js-modules.ts: ~20 MB less RSS than type stripping);
// AUDITREADY_STRIP_TYPES=1 leaves that to Node's type stripping.
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { emitModules } from "./js-modules.ts";

export const DEFAULT_NODE_FLAGS = ["--max-semi-space-size=2", "--max-old-space-size=128"];

/** The flags to add to this process's command line (none when it already has them). */
export function missingFlags(
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
): string[] {
  const wanted =
    env.AUDITREADY_NODE_FLAGS === undefined
      ? DEFAULT_NODE_FLAGS
      : env.AUDITREADY_NODE_FLAGS.split(/\s+/).filter(Boolean);
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? "").split(/\s+/)].map(nameOf);
  return wanted.filter((f) => !given.includes(nameOf(f)));
}

const nameOf = (flag: string) => flag.split("=")[0]?.replaceAll("_", "-") ?? flag;

/**
 * Re-executes this process with the missing flags, running the sidecar as JavaScript; returns
 * only when there is nothing to do (or it cannot: then it runs as it is).
 */
export function relaunchWithFlags(): void {
  // Once only: a flag Node ignores must not make the process re-execute itself forever.
  if (process.env.AUDITREADY_RELAUNCHED === "1") return;
  if (typeof process.execve !== "function") return; // older Node: run with its defaults
  const add = missingFlags();
  const js =
    process.env.AUDITREADY_STRIP_TYPES === "1"
      ? undefined
      : emitModules(join(import.meta.dirname, "main.ts"));
  if (add.length === 0 && js === undefined) return;
  const importHooks = js ? [`--import=${pathToFileURL(js.hooks).href}`] : [];
  try {
    process.execve(
      process.execPath,
      [process.execPath, ...add, ...importHooks, ...process.execArgv, ...process.argv.slice(1)],
      {
        ...process.env,
        AUDITREADY_RELAUNCHED: "1",
        ...(js ? { AUDITREADY_JS_MODULES: js.modules } : {}),
      },
    );
  } catch {
    // Not re-executed (the call failed): run on as this process is, without leftovers.
    if (js) rmSync(dirname(js.modules), { recursive: true, force: true });
  }
}
