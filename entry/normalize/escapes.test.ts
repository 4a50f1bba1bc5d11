import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeLogEscapes } from "./escapes.ts";

describe("access-log escapes", () => {
  it("leaves text without a backslash untouched", () => {
    const s = "GET /caf\u00e9 HTTP/1.1";
    expect(decodeLogEscapes(s)).toBe(s);
  });

  it("decodes nginx \\xHH, including an escaped quote and backslash", () => {
    expect(decodeLogEscapes("GET /a\\x22b\\x5Cc HTTP/1.1")).toBe('GET /a"b\\c HTTP/1.1');
    // A TLS ClientHello sent to a plain-HTTP port, as nginx logs it.
    expect(decodeLogEscapes("\\x16\\x03\\x01\\x00\\xAB")).toBe("\u0016\u0003\u0001\u0000\ufffd");
  });

  it("reads escaped bytes as UTF-8", () => {
    expect(decodeLogEscapes("/caf\\xC3\\xA9")).toBe("/caf\u00e9");
    expect(decodeLogEscapes("Mozilla \\xE2\\x82\\xAC")).toBe("Mozilla \u20ac");
  });

  it("replaces bytes that are not UTF-8 with U+FFFD", () => {
    expect(decodeLogEscapes("a\\xFFb")).toBe("a\ufffdb");
    expect(decodeLogEscapes("\\xC3(")).toBe("\ufffd(");
  });

  it("decodes Apache's backslash escapes", () => {
    expect(decodeLogEscapes('say \\"hi\\"\\n\\t\\\\')).toBe('say "hi"\n\t\\');
  });

  it("keeps a backslash neither server would write, and a truncated \\x", () => {
    expect(decodeLogEscapes("C:\\path\\q")).toBe("C:\\path\\q");
    expect(decodeLogEscapes("end\\x4")).toBe("end\\x4");
    expect(decodeLogEscapes("end\\")).toBe("end\\");
  });

  it("undoes what nginx writes, for any bytes", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 60 }), (s) => {
        const text = s.toWellFormed();
        const written = [...Buffer.from(text)]
          .map((b) =>
            b < 0x20 || b > 0x7e || b === 0x22 || b === 0x5c
              ? `\\x${b.toString(16).toUpperCase().padStart(2, "0")}`
              : String.fromCharCode(b),
          )
          .join("");
        expect(decodeLogEscapes(written)).toBe(text);
      }),
    );
  });
});
