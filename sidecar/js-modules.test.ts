import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { stripGraph } from "./js-modules.ts";

const MAIN = resolve(import.meta.dirname, "main.ts");
const url = (path: string) => pathToFileURL(resolve(import.meta.dirname, path)).href;

describe("the sidecar as JavaScript", () => {
  it("strips every module main.ts can load, statically or dynamically, as Node would", () => {
    const graph = stripGraph(MAIN);
    for (const m of [
      "main.ts",
      "run.ts", // a dynamic import
      "pipeline.ts",
      "sink/kafka.ts",
      "sink/kafkajs-fast.ts",
      "../entry/seal.ts",
      "../entry/normalize/normalizer.ts",
    ]) {
      expect(graph.has(url(m)), m).toBe(true);
    }
    expect([...graph.keys()].some((k) => k.endsWith(".test.ts"))).toBe(false);
    for (const [key, js] of graph) {
      const ts = readFileSync(fileURLToPath(key), "utf8");
      expect(js).toBe(stripTypeScriptTypes(ts, { mode: "strip" }));
    }
  });

  it("runs the sidecar without Node's TypeScript parser, leaves nothing in the temp folder and prints no warning", () => {
    const tmp = mkdtempSync(join(tmpdir(), "ar-js-"));
    const probe = join(tmp, "probe.mjs");
    // Runs in the re-executed process too (NODE_OPTIONS is inherited); reports at exit.
    writeFileSync(
      probe,
      `process.on("exit", () => process.stderr.write("amaro " + process.moduleLoadList.some((m) => m.includes("amaro")) + "\\n"));`,
    );
    const run = (env: NodeJS.ProcessEnv) =>
      spawnSync(process.execPath, [MAIN, "--help"], {
        encoding: "utf8",
        env: { ...process.env, ...env, TMPDIR: tmp, NODE_OPTIONS: `--import=${probe}` },
      });
    const js = run({});
    expect(js.status).toBe(0);
    expect(js.stdout).toContain("auditready-sidecar");
    expect(js.stderr).toBe("amaro false\n");
    const stripped = run({ AUDITREADY_STRIP_TYPES: "1" });
    expect(stripped.stdout).toBe(js.stdout);
    expect(stripped.stderr).toBe("amaro true\n");
    expect(readdirSync(tmp)).toEqual(["probe.mjs"]);
  }, 30_000); // two node processes, each started twice, on a busy machine
});
