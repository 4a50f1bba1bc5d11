// One JSON object per line; values keep their nesting, reached by field paths. nginx writes
// JSON templates with its default escaping unless told `escape=json`, so a quote or a
// non-ASCII byte in a value comes out as \xHH, which JSON does not allow: a line that fails to
// parse and holds such escapes is read again with each run of them turned into the JSON escape
// of the text its bytes spell (UTF-8, U+FFFD for invalid bytes), as access-log fields are.
// Only failing lines pay for this.
import { decodeLogEscapes } from "./escapes.ts";
import type { LineParser, ParseResult } from "./formats.ts";
import type { Parsed } from "./paths.ts";

/** A run of \xHH escapes not itself escaped (an even number of backslashes before it). */
const HEX_RUN = /(?<!\\)((?:\\\\)*)((?:\\x[0-9A-Fa-f]{2})+)/g;

function object(v: unknown): ParseResult {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    return { ok: false, reason: "not a JSON object" };
  return { ok: true, values: v as Parsed };
}

export const json: LineParser = {
  parse(line) {
    try {
      return object(JSON.parse(line));
    } catch (err) {
      const reason = `not JSON: ${(err as Error).message}`;
      if (!line.includes("\\x")) return { ok: false, reason };
      const repaired = line.replace(
        HEX_RUN,
        (_, pairs: string, run: string) =>
          pairs + JSON.stringify(decodeLogEscapes(run)).slice(1, -1),
      );
      try {
        return object(JSON.parse(repaired));
      } catch {
        return { ok: false, reason };
      }
    }
  },
  defaults: {},
  render: (values) => JSON.stringify(values),
};
