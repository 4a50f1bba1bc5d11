#!/usr/bin/env node
// The image's entrypoint: `auditready operator | sidecar | verify | keys | --help`. It hands
// the process to the module that runs the command, with process.argv rewritten so that module
// sees what it would if started as `node <module> <args>`: the sidecar's re-execution with its
// V8 flags (sidecar/launch.ts passes process.argv.slice(1) on) then starts sidecar/main.ts
// itself, not this file again.
import { fileURLToPath } from "node:url";
import { route } from "./route.mjs";

const to = route(process.argv.slice(2));
if ("help" in to) {
  process.stdout.write(to.help);
} else {
  process.argv.splice(1, process.argv.length, fileURLToPath(to.module), ...to.argv);
  await import(to.module.href);
}
