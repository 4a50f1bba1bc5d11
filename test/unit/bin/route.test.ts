import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CLI, OPERATOR_HELP, PROCESS_COMMANDS, route } from "../../../bin/route.mjs";

describe("auditready entrypoint dispatch", () => {
  it("starts the operator and the sidecar as their own modules with only their arguments", () => {
    expect(route(["operator"])).toEqual({ module: PROCESS_COMMANDS.operator, argv: [] });
    expect(route(["sidecar", "--config", "/etc/auditready/sidecar.yaml"])).toEqual({
      module: PROCESS_COMMANDS.sidecar,
      argv: ["--config", "/etc/auditready/sidecar.yaml"],
    });
    expect(route(["sidecar", "--help"])).toEqual({
      module: PROCESS_COMMANDS.sidecar,
      argv: ["--help"],
    });
  });

  it("hands every other command, help and nothing at all to the CLI with the command kept", () => {
    for (const args of [["verify", "--file", "l"], ["keys"], ["--help"], ["help"], [], ["nope"]]) {
      expect(route(args)).toEqual({ module: CLI, argv: args });
    }
  });

  it("answers the operator's help itself instead of starting an operator", () => {
    expect(route(["operator", "--help"])).toEqual({ help: OPERATOR_HELP });
    expect(route(["operator", "-h"])).toEqual({ help: OPERATOR_HELP });
    expect(route(["help", "operator"])).toEqual({ help: OPERATOR_HELP });
    expect(route(["help", "sidecar"])).toEqual({
      module: PROCESS_COMMANDS.sidecar,
      argv: ["--help"],
    });
  });

  it("names modules that exist, under the paths the package.json scripts run", () => {
    const paths = [CLI, PROCESS_COMMANDS.operator, PROCESS_COMMANDS.sidecar].map((u) =>
      fileURLToPath(u),
    );
    expect(paths.map((p) => p.split("/").slice(-2).join("/"))).toEqual([
      "cli/auditready.ts",
      "operator/main.ts",
      "sidecar/main.ts",
    ]);
    for (const p of paths) expect(existsSync(p)).toBe(true);
  });
});
