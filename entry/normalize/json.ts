// One JSON object per line; values keep their nesting, reached by field paths.
import type { LineParser } from "./formats.ts";
import type { Parsed } from "./paths.ts";

export const json: LineParser = {
  parse(line) {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      return { ok: false, reason: `not JSON: ${(err as Error).message}` };
    }
    if (typeof v !== "object" || v === null || Array.isArray(v))
      return { ok: false, reason: "not a JSON object" };
    return { ok: true, values: v as Parsed };
  },
  defaults: {},
  render: (values) => JSON.stringify(values),
};
