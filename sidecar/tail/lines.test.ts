import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LineSplitter, type SplitLine } from "./lines.ts";

function splitAll(
  chunks: Buffer[],
  max: number,
): { lines: SplitLine[]; tail: SplitLine | undefined } {
  const s = new LineSplitter(max);
  const lines: SplitLine[] = [];
  let base = 0;
  for (const c of chunks) {
    s.push(c, base, lines);
    base += c.length;
  }
  return { lines, tail: s.flush() };
}

describe("LineSplitter", () => {
  it("gives each line its byte range, newline excluded", () => {
    const { lines, tail } = splitAll([Buffer.from("ab\ncde\n\nf")], 100);
    expect(lines.map((l) => [l.bytes.toString(), l.offset, l.endOffset])).toEqual([
      ["ab", 0, 3],
      ["cde", 3, 7],
      ["", 7, 8],
    ]);
    expect(tail).toMatchObject({ offset: 8, endOffset: 9, unterminated: true });
    expect(tail?.bytes.toString()).toBe("f");
  });

  it("joins a line that spans chunks", () => {
    const { lines } = splitAll(
      [Buffer.from("hel"), Buffer.from("lo wo"), Buffer.from("rld\n")],
      100,
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ offset: 0, endOffset: 12, truncated: false, fullLength: 11 });
    expect(lines[0]?.bytes.toString()).toBe("hello world");
  });

  it("truncates an over-long line, keeps its full length and hash, never drops it", () => {
    const long = "x".repeat(50);
    for (const chunks of [[`${long}\nok\n`], [long.slice(0, 7), long.slice(7), "\nok\n"]]) {
      const { lines } = splitAll(
        chunks.map((c) => Buffer.from(c)),
        16,
      );
      expect(lines).toHaveLength(2);
      const [first, second] = lines;
      expect(first?.truncated).toBe(true);
      expect(first?.bytes.toString()).toBe("x".repeat(16));
      expect(first?.fullLength).toBe(50);
      expect(first?.fullSha256?.toString("hex")).toBe(
        createHash("sha256").update(long).digest("hex"),
      );
      expect(first?.endOffset).toBe(51);
      expect(second).toMatchObject({ offset: 51, endOffset: 54, truncated: false });
    }
  });

  it("does not cut a UTF-8 character in two when truncating", () => {
    const { lines } = splitAll([Buffer.from(`abcdefg€€€\n`)], 8); // € is 3 bytes
    expect(lines[0]?.bytes.toString()).toBe("abcdefg");
    expect(lines[0]?.invalidUtf8).toBe(false);
  });

  it("flags invalid UTF-8 and keeps the bytes as they were", () => {
    const bad = Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x0a]);
    const { lines } = splitAll([bad], 100);
    expect(lines[0]?.invalidUtf8).toBe(true);
    expect([...(lines[0]?.bytes ?? [])]).toEqual([0x61, 0xff, 0xfe, 0x62]);
  });

  it("accounts for every byte exactly once, whatever the chunking (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(10), fc.integer({ min: 0, max: 255 })), { maxLength: 400 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 4, max: 40 }),
        (bytes, cuts, max) => {
          const data = Buffer.from(bytes);
          const chunks: Buffer[] = [];
          let at = 0;
          for (let i = 0; at < data.length; i++) {
            const n = cuts[i % cuts.length] as number;
            chunks.push(data.subarray(at, at + n));
            at += n;
          }
          const { lines, tail } = splitAll(chunks, max);
          const all = tail ? [...lines, tail] : lines;
          let expected = 0;
          for (const l of all) {
            expect(l.offset).toBe(expected);
            const full = data.subarray(l.offset, l.offset + l.fullLength);
            expect(full.includes(10)).toBe(false);
            expect(l.bytes.length).toBeLessThanOrEqual(max);
            expect(full.subarray(0, l.bytes.length).equals(l.bytes)).toBe(true);
            expect(l.truncated).toBe(l.fullLength > max);
            expected = l.endOffset;
          }
          expect(expected).toBe(data.length);
        },
      ),
    );
  });
});
