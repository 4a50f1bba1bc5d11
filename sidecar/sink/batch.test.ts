import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeFrame, decodeFramePacked, encodeFrame } from "../spool/frame.ts";
import { BatchBuilder, PackedBatch } from "./batch.ts";
import type { SinkMessage } from "./sink.ts";

const messages = fc.array(
  fc.record({
    key: fc.constantFrom("a/b/c", "origin-ü", "x"),
    value: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  }),
  { maxLength: 60 },
);

const plain = (ms: readonly SinkMessage[]) => ms.map((m) => ({ key: m.key, value: [...m.value] }));

describe("packed batch", () => {
  it("holds the messages it was given, in order, with their keys and byte count", () => {
    fc.assert(
      fc.property(messages, (ms) => {
        const b = PackedBatch.from(ms);
        expect(b.count).toBe(ms.length);
        expect(plain(b.messages())).toEqual(plain(ms));
        for (let i = 0; i < ms.length; i++) expect(b.key(i)).toBe(ms[i]?.key);
        const bytes = ms.reduce((n, m) => n + m.value.length + Buffer.byteLength(m.key), 0);
        expect(b.bytes).toBe(bytes);
        expect(b.runKeys.length).toBeLessThanOrEqual(ms.length);
      }),
    );
  });

  it("slices without copying and keeps keys and byte counts right", () => {
    fc.assert(
      fc.property(messages, fc.nat(60), fc.nat(60), (ms, a, z) => {
        const b = PackedBatch.from(ms);
        const [from, to] = a <= z ? [a, z] : [z, a];
        const s = b.slice(from, to);
        const want = ms.slice(from, to);
        expect(plain(s.messages())).toEqual(plain(want));
        expect(s.bytes).toBe(PackedBatch.from(want).bytes);
        expect(s.data.buffer).toBe(b.data.buffer);
      }),
    );
  });

  it("goes through a spool frame and back, as objects or packed", () => {
    fc.assert(
      fc.property(messages, (ms) => {
        const frame = encodeFrame(PackedBatch.from(ms));
        expect(frame).toEqual(encodeFrame(ms));
        expect(plain(decodeFrame(frame) ?? [])).toEqual(plain(ms));
        const p = decodeFramePacked(frame);
        expect(plain(p?.messages() ?? [])).toEqual(plain(ms));
        expect(p?.runKeys).toEqual(PackedBatch.from(ms).runKeys);
      }),
    );
  });

  it("a builder grows for large values and starts again empty", () => {
    const b = new BatchBuilder(16, 1, 1_024);
    const big = Buffer.alloc(5_000, 1);
    b.add("k", Buffer.from("x"));
    b.add("k", big);
    b.add("j", Buffer.from("yz"));
    const first = b.take();
    expect(first.count).toBe(3);
    expect(first.value(1)).toEqual(big);
    expect(first.runKeys).toEqual(["k", "j"]);
    expect(b.count).toBe(0);
    b.add("k", Buffer.from("again"));
    expect(
      b
        .take()
        .messages()
        .map((m) => m.value.toString()),
    ).toEqual(["again"]);
  });

  it("a builder reuses a published batch's buffer, and never one still in use", () => {
    const b = new BatchBuilder(65_536, 4, 1 << 20);
    const take = (v: string) => {
      b.add("k", Buffer.from(v));
      return b.take();
    };
    const first = take("one");
    const second = take("two"); // the builder already holds the buffer for the next one
    b.reuse(first);
    b.reuse(first); // twice: ignored (no longer its buffer)
    const third = take("three");
    const fourth = take("four");
    expect(fourth.data.buffer).toBe(first.data.buffer);
    const buffers = new Set([second, third, fourth].map((x) => x.data.buffer));
    expect(buffers.size).toBe(3);
    expect([second, third, fourth].map((x) => x.value(0).toString())).toEqual([
      "two",
      "three",
      "four",
    ]);
    b.reuse(second);
    b.reuse(third);
    b.reuse(fourth); // at most two spares: this one is dropped
    const rest = [take("5"), take("6"), take("7"), take("8")].map((x) => x.data.buffer);
    expect(rest.filter((x) => x === second.data.buffer || x === third.data.buffer)).toHaveLength(2);
    expect(rest).not.toContain(fourth.data.buffer);
  });
});
