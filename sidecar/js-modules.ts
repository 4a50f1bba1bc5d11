// Runs the sidecar as JavaScript instead of through Node's type stripping, which loads a
// WebAssembly TypeScript parser (~20 MB of RSS, a fifth of the sidecar's) the first time a
// `.ts` module is loaded. Before main.ts re-executes the process (launch.ts), the process that
// already paid for the parser strips every module the sidecar can load (found by following
// relative imports from main.ts) into one file in a private temp folder; the new process
// starts with `--import` of js-hooks.ts (stripped the same way), which reads that file, deletes
// the folder, and serves those modules as JavaScript under their own `.ts` URLs (so paths,
// import.meta and stack traces are unchanged). Nothing is cached across starts (nothing can be
// stale or planted); a module it does not have is stripped by Node as before.
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** Relative `.ts` specifiers of static imports, re-exports and dynamic imports. */
const SPECIFIER = /(?:\bfrom|\bimport)\s*\(?\s*(["'])(\.{1,2}\/[^"'\n]+?\.ts)\1/g;

/** Module URL (as Node names it: the real path) -> its JavaScript, for `entry` and all it imports. */
export function stripGraph(entry: string): Map<string, string> {
  const out = new Map<string, string>();
  const queue = [realpathSync(entry)];
  for (let path = queue.pop(); path !== undefined; path = queue.pop()) {
    const url = pathToFileURL(path).href;
    if (out.has(url)) continue;
    const js = quietly(() => stripTypeScriptTypes(readFileSync(path, "utf8"), { mode: "strip" }));
    out.set(url, js);
    for (const m of js.matchAll(SPECIFIER)) {
      try {
        queue.push(realpathSync(resolve(dirname(path), m[2] as string)));
      } catch {
        // not a file (a string that only looks like an import): nothing to serve
      }
    }
  }
  return out;
}

export interface EmittedModules {
  /** For AUDITREADY_JS_MODULES: the modules file js-hooks.ts reads (and deletes). */
  modules: string;
  /** For --import: the hooks module. */
  hooks: string;
}

/** Writes the sidecar's modules and the hooks for the next process; undefined if it cannot. */
export function emitModules(entry: string): EmittedModules | undefined {
  let dir: string | undefined;
  try {
    const modules = stripGraph(entry);
    const hooks = quietly(() =>
      stripTypeScriptTypes(readFileSync(join(import.meta.dirname, "js-hooks.ts"), "utf8"), {
        mode: "strip",
      }),
    );
    dir = mkdtempSync(join(tmpdir(), "auditready-sidecar-")); // mode 0700: ours alone
    const out = { modules: join(dir, "modules.json"), hooks: join(dir, "hooks.mjs") };
    writeFileSync(out.modules, JSON.stringify(Object.fromEntries(modules)), { mode: 0o600 });
    writeFileSync(out.hooks, hooks, { mode: 0o600 });
    return out;
  } catch {
    // No JavaScript then (a source that does not parse, no writable temp folder): Node strips
    // the types as before, and reports any error itself.
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

/** Runs `fn` without the "stripTypeScriptTypes is an experimental feature" warning. */
function quietly<T>(fn: () => T): T {
  const emit = process.emitWarning;
  process.emitWarning = () => undefined;
  try {
    return fn();
  } finally {
    process.emitWarning = emit;
  }
}
