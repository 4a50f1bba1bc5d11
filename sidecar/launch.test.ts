import { describe, expect, it } from "vitest";
import { DEFAULT_NODE_FLAGS, missingFlags } from "./launch.ts";

describe("sidecar launch flags", () => {
  it("adds the default heap flags the process does not have yet", () => {
    expect(missingFlags({}, [])).toEqual(DEFAULT_NODE_FLAGS);
    expect(missingFlags({}, [...DEFAULT_NODE_FLAGS])).toEqual([]);
  });

  it("leaves a flag given on the command line or in NODE_OPTIONS alone, in either spelling", () => {
    expect(missingFlags({ NODE_OPTIONS: "--max_old_space_size=200" }, [])).toEqual([
      "--max-semi-space-size=2",
    ]);
    expect(missingFlags({}, ["--max-semi-space-size=8"])).toEqual([DEFAULT_NODE_FLAGS[1]]);
  });

  it("takes AUDITREADY_NODE_FLAGS instead of the defaults; empty means none", () => {
    expect(missingFlags({ AUDITREADY_NODE_FLAGS: "" }, [])).toEqual([]);
    expect(missingFlags({ AUDITREADY_NODE_FLAGS: " --max-old-space-size=128 " }, [])).toEqual([
      "--max-old-space-size=128",
    ]);
  });
});
