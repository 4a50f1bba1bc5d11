// Loaded with `--import` into the re-executed sidecar process, as JavaScript (js-modules.ts
// strips it and writes it next to the modules file): serves the sidecar's modules as the
// JavaScript js-modules.ts stripped from them, so Node never loads its TypeScript parser. Reads
// the modules file named by AUDITREADY_JS_MODULES once, deletes what was written, and keeps each
// module only until it is loaded. Imports nothing but Node's own modules.
import { readFileSync, rmdirSync, rmSync } from "node:fs";
import { registerHooks } from "node:module";
import { dirname, join } from "node:path";

const file = process.env.AUDITREADY_JS_MODULES;
delete process.env.AUDITREADY_JS_MODULES; // not for child processes

if (file !== undefined) {
  let modules = new Map<string, string>();
  try {
    modules = new Map(Object.entries(JSON.parse(readFileSync(file, "utf8")) as object));
  } catch {
    // unreadable: Node strips the types itself
  } finally {
    // Only what js-modules.ts wrote, and its folder once empty.
    rmSync(file, { force: true });
    rmSync(join(dirname(file), "hooks.mjs"), { force: true });
    try {
      rmdirSync(dirname(file));
    } catch {
      // not empty, or gone: not ours to force
    }
  }
  registerHooks({
    load(url, context, nextLoad) {
      const source = modules.get(url);
      if (source === undefined) return nextLoad(url, context);
      modules.delete(url);
      return { format: "module", source, shortCircuit: true };
    },
  });
}
