// auditready-sidecar's entry point (`node sidecar/main.ts`): first the V8 heap flags (launch.ts
// re-executes the process with them), then the sidecar itself (run.ts). Nothing else is loaded
// before the re-exec, so it costs only Node's start.
import { relaunchWithFlags } from "./launch.ts";

relaunchWithFlags();
await import("./run.ts");
