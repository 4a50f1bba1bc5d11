import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CanonicalError, canonicalize, parseCanonical } from "./canonical.ts";

describe("RFC 8785 canonical JSON", () => {
  it("sorts keys by UTF-16 code units, including integer-like keys", () => {
    expect(
      canonicalize({
        b: 1,
        a: [true, null, "x"],
        "10": 0,
        "2": 0,
        é: 1,
        "\u{1F600}": 1,
        "\uFFFF": 1,
      }),
    ).toBe('{"10":0,"2":0,"a":[true,null,"x"],"b":1,"é":1,"\u{1F600}":1,"\uFFFF":1}');
  });

  it("writes numbers and strings as RFC 8785 does", () => {
    // Vectors from RFC 8785 appendix B and section 3.2.2: their imprecision is the point.
    expect(
      canonicalize([
        1e21,
        1e-7,
        0.000001,
        -0,
        Number("333333333.33333329"),
        Number("4.5e-324"),
        9007199254740991,
      ]),
    ).toBe("[1e+21,1e-7,0.000001,0,333333333.3333333,5e-324,9007199254740991]");
    expect(canonicalize("\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"/")).toBe(
      '"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"',
    );
  });

  it("refuses what I-JSON cannot carry", () => {
    expect(() => canonicalize({ a: Number.NaN })).toThrow(CanonicalError);
    expect(() => canonicalize({ a: "\ud800" })).toThrow(/lone surrogate/);
    expect(() => canonicalize([undefined])).toThrow(CanonicalError);
  });

  it("parseCanonical accepts exactly the canonical bytes of any JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        const text = canonicalize(v);
        expect(canonicalize(parseCanonical(Buffer.from(text)))).toBe(text);
        const spaced = text.replace(/^([[{])/, "$1 ");
        if (spaced !== text) expect(() => parseCanonical(Buffer.from(spaced))).toThrow(/differ/);
      }),
    );
  });
});
