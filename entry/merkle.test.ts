import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CompactRange,
  consistencyProof,
  digestHex,
  EMPTY_ROOT,
  fromDigest,
  inclusionProof,
  leafDigest,
  leafHash,
  nodeHash,
  rootOf,
  toDigest,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.ts";

const leaves = (n: number) =>
  Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));

describe("RFC 6962 tree", () => {
  it("hashes leaves and nodes with the 0x00 / 0x01 prefixes", () => {
    const l = leafHash(Buffer.from("x"));
    expect(l).toEqual(
      createHash("sha256")
        .update(Buffer.from([0, 0x78]))
        .digest(),
    );
    expect(nodeHash(l, l)).toEqual(
      createHash("sha256")
        .update(Buffer.from([1]))
        .update(l)
        .update(l)
        .digest(),
    );
  });

  it("matches the RFC 6962 reference root for the empty tree and known vectors", () => {
    expect(rootOf([]).toString("hex")).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    // Certificate Transparency's test vector: leaves "", "\x00", "\x10", "\x20\x21", ...
    const ct = [
      "",
      "00",
      "10",
      "2021",
      "3031",
      "40414243",
      "5051525354555657",
      "606162636465666768696a6b6c6d6e6f",
    ].map((h) => leafHash(Buffer.from(h, "hex")));
    expect(rootOf(ct).toString("hex")).toBe(
      "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    );
  });

  it("compact range gives the same root as the full tree at every size", () => {
    const ls = leaves(70);
    const range = new CompactRange();
    expect(range.root()).toEqual(EMPTY_ROOT);
    for (let i = 0; i < ls.length; i++) {
      range.append(ls[i] as Buffer);
      expect(range.root()).toEqual(rootOf(ls, 0, i + 1));
    }
    expect(CompactRange.fromJSON(range.toJSON()).root()).toEqual(range.root());
    // The digest form the hot paths use gives the same tree.
    const byDigest = new CompactRange();
    for (const l of ls) byDigest.appendDigest(toDigest(leafHash(l)));
    const byHash = new CompactRange();
    for (const l of ls) byHash.append(leafHash(l));
    expect(byDigest.toJSON()).toEqual(byHash.toJSON());
    expect(fromDigest(byDigest.rootDigest())).toEqual(byHash.root());
    expect(byDigest.clone().hashes).toEqual(byHash.hashes);
    expect(leafDigest(ls[3] as Buffer)).toBe(toDigest(leafHash(ls[3] as Buffer)));
    expect(digestHex(toDigest(EMPTY_ROOT))).toBe(EMPTY_ROOT.toString("hex"));
  });

  it("inclusion proofs verify, and fail for another leaf, index or root", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.nat(), (n, r) => {
        const ls = leaves(n);
        const m = r % n;
        const proof = inclusionProof(ls, m);
        const root = rootOf(ls);
        expect(verifyInclusion(ls[m] as Buffer, m, n, proof, root)).toBe(true);
        expect(verifyInclusion(leafHash(Buffer.from("other")), m, n, proof, root)).toBe(false);
        if (n > 1)
          expect(verifyInclusion(ls[m] as Buffer, (m + 1) % n, n, proof, root)).toBe(false);
        expect(verifyInclusion(ls[m] as Buffer, m, n, proof, EMPTY_ROOT)).toBe(false);
      }),
    );
  });

  it("consistency proofs verify between every pair of sizes, and fail for a forked tree", () => {
    const ls = leaves(40);
    for (let n = 1; n <= ls.length; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(ls, m, n);
        expect(
          verifyConsistency(m, n, rootOf(ls, 0, m), rootOf(ls, 0, n), proof),
          `${m} ${n}`,
        ).toBe(true);
        if (m < n) {
          const forked = [...ls.slice(0, n)];
          forked[m - 1] = leafHash(Buffer.from("forged"));
          expect(verifyConsistency(m, n, rootOf(forked, 0, m), rootOf(ls, 0, n), proof)).toBe(
            false,
          );
        }
      }
    }
  });
});
