// The memo of parseEventTime (the last second, reused when only the fraction differs) must give
// exactly what the full parse gives, for any sequence of times, valid or not.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseEventTime, parseEventTimeUncached } from "./time.ts";

const digits = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: min, maxLength: max });

// Times that share seconds often, with fractions of 0..11 digits and varied zones and forms.
const time = fc.oneof(
  fc
    .tuple(
      fc.constantFrom("2026-11-23T10:00:0", "2026-02-30T10:00:0", "2026-11-23 23:59:5"),
      fc.constantFrom("0", "9"),
      fc.constantFrom("", ".", ","),
      digits(0, 11),
      fc.constantFrom("", "Z", "z", "+01:00", "-0530", "+2400", "x"),
    )
    .map(([a, b, sep, f, z]) => `${a}${b}${sep}${f}${z}`),
  fc
    .tuple(
      fc.constantFrom("23/Nov/2026:10:00:00", "31/Feb/2026:10:00:00", "23/Foo/2026:10:00:00"),
      fc.constantFrom("", ".", ","),
      digits(0, 11),
      fc.constantFrom(" +0000", " -0700", "", " +00:00"),
    )
    .map(([a, sep, f, z]) => `${a}${sep}${f}${z}`),
  digits(9, 20),
  fc.integer(),
);

describe("parseEventTime's memo", () => {
  it("gives what the full parse gives, line after line", () => {
    fc.assert(
      fc.property(fc.array(time, { maxLength: 40 }), (times) => {
        for (const t of times) expect(parseEventTime(t)).toEqual(parseEventTimeUncached(t));
      }),
      { numRuns: 500 },
    );
  });

  it("keeps the fraction of each line", () => {
    expect(parseEventTime("2026-11-23T10:00:00.1Z")?.time).toBe("2026-11-23T10:00:00.100Z");
    expect(parseEventTime("2026-11-23T10:00:00.123456Z")?.time).toBe("2026-11-23T10:00:00.123456Z");
    expect(parseEventTime("2026-11-23T10:00:00.5")).toEqual({
      time: "2026-11-23T10:00:00.500Z",
      assumedUtc: true,
    });
  });
});

describe("access-log times without a zone", () => {
  it("are read as UTC and flagged, as ISO times without a zone are", () => {
    expect(parseEventTime("06/Feb/2009:12:14:14.655")).toEqual({
      time: "2009-02-06T12:14:14.655Z",
      assumedUtc: true,
    });
    expect(parseEventTimeUncached("10/Oct/2000:13:55:36")).toEqual({
      time: "2000-10-10T13:55:36.000Z",
      assumedUtc: true,
    });
    expect(parseEventTime("10/Oct/2000:13:55:36 -0700")).toEqual({
      time: "2000-10-10T20:55:36.000Z",
    });
  });
});
