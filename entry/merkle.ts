// RFC 6962 / RFC 9162 Merkle tree over a stream's records: leaf = SHA-256(0x00 || bytes),
// node = SHA-256(0x01 || left || right). `seq` is the leaf index. A compact range (the roots of
// the perfect subtrees covering [0, size), largest first) is all the state needed to append
// and to compute the root, so the sidecar persists it and the verifier keeps its own.
import { createHash, hash } from "node:crypto";

export type Hash = Buffer;

// Scratch buffers for hash inputs: each hash is computed before its function returns, so reuse
// is safe (single-threaded) and saves an allocation and a copy's garbage per record or node.
let leafInput = Buffer.allocUnsafeSlow(4096);
const nodeInput = Buffer.alloc(65);
nodeInput[0] = 1;

// One-shot `crypto.hash` is much cheaper than a Hash object per call, and its latin1
// ("binary") string output is about three times cheaper again than its "buffer" output (on
// Node 24 that allocates a fresh ArrayBuffer per call; measured with bench:entry). So the
// hashing lives in the Digest functions below, and these Buffer forms wrap them.
export function leafHash(bytes: Uint8Array): Hash {
  return fromDigest(leafDigest(bytes));
}

export function nodeHash(left: Hash, right: Hash): Hash {
  nodeInput.set(left, 1);
  nodeInput.set(right, 33);
  return fromDigest(hash("sha256", nodeInput, "binary"));
}

export const EMPTY_ROOT: Hash = createHash("sha256").digest();

/**
 * A SHA-256 digest as a 32-character latin1 string: the form the sealer's and the verifier's
 * hot paths keep. A string costs no Buffer per hash (no allocation, less memory per record
 * held), compares with ===, and `crypto.hash` returns it directly.
 */
export type Digest = string;

export const toDigest = (h: Uint8Array): Digest =>
  Buffer.from(h.buffer, h.byteOffset, h.length).toString("latin1");
export const fromDigest = (d: Digest): Hash => Buffer.from(d, "latin1");

/** The leaf digest of bytes that already carry the 0x00 prefix. */
export function leafDigestPrefixed(prefixed: Uint8Array): Digest {
  if (prefixed[0] !== 0) throw new Error("leaf bytes must start with the 0x00 prefix");
  return hash("sha256", prefixed, "binary");
}

/** SHA-256(0x00 || bytes): the 0x00 prefix and the bytes go into one reused buffer. */
export function leafDigest(bytes: Uint8Array): Digest {
  const n = bytes.length + 1;
  if (leafInput.length < n) leafInput = Buffer.allocUnsafeSlow(Math.max(n, 2 * leafInput.length));
  leafInput[0] = 0;
  leafInput.set(bytes, 1);
  return hash("sha256", leafInput.subarray(0, n), "binary");
}

export function nodeDigest(left: Digest, right: Digest): Digest {
  nodeInput.write(left, 1, 32, "latin1");
  nodeInput.write(right, 33, 32, "latin1");
  return hash("sha256", nodeInput, "binary");
}

const hexScratch = Buffer.alloc(32);

/** Lowercase hex of a digest (the records' `prev`), without a Buffer per call. */
export function digestHex(d: Digest): string {
  hexScratch.write(d, 0, 32, "latin1");
  return hexScratch.toString("hex");
}

const EMPTY_DIGEST = toDigest(EMPTY_ROOT);

/** Roots of the perfect subtrees that cover [0, size), from the largest (leftmost) down. */
export class CompactRange {
  size: number;
  readonly digests: Digest[];

  constructor(size = 0, hashes: readonly Hash[] = []) {
    this.size = size;
    this.digests = hashes.map(toDigest);
    checkCount(size, hashes.length);
  }

  static fromDigests(size: number, digests: readonly Digest[]): CompactRange {
    checkCount(size, digests.length);
    const r = new CompactRange();
    r.size = size;
    r.digests.push(...digests);
    return r;
  }

  get hashes(): Hash[] {
    return this.digests.map(fromDigest);
  }

  append(leaf: Hash): void {
    this.appendDigest(toDigest(leaf));
  }

  appendDigest(leaf: Digest): void {
    let h = leaf;
    // Merge with equal-sized subtrees: one per trailing 1 bit of size.
    for (let s = this.size; s & 1; s = Math.floor(s / 2)) {
      h = nodeDigest(this.digests.pop() as Digest, h);
    }
    this.digests.push(h);
    this.size++;
  }

  root(): Hash {
    return fromDigest(this.rootDigest());
  }

  rootDigest(): Digest {
    const d = this.digests;
    if (d.length === 0) return EMPTY_DIGEST;
    let h = d[d.length - 1] as Digest;
    for (let i = d.length - 2; i >= 0; i--) h = nodeDigest(d[i] as Digest, h);
    return h;
  }

  clone(): CompactRange {
    return CompactRange.fromDigests(this.size, this.digests);
  }

  toJSON(): { size: number; hashes: string[] } {
    return { size: this.size, hashes: this.digests.map(digestBase64) };
  }

  static fromJSON(v: { size: number; hashes: string[] }): CompactRange {
    return new CompactRange(
      v.size,
      v.hashes.map((h) => Buffer.from(h, "base64")),
    );
  }
}

export function digestBase64(d: Digest): string {
  hexScratch.write(d, 0, 32, "latin1");
  return hexScratch.toString("base64");
}

function checkCount(size: number, hashes: number): void {
  if (popcount(size) !== hashes)
    throw new Error(`compact range: size ${size} needs ${popcount(size)} hashes, got ${hashes}`);
}

function popcount(n: number): number {
  let c = 0;
  for (let v = n; v > 0; v = Math.floor(v / 2)) c += v & 1;
  return c;
}

/** Root of leaves[lo, hi) per RFC 6962 (MTH). */
export function rootOf(leaves: readonly Hash[], lo = 0, hi = leaves.length): Hash {
  const n = hi - lo;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leaves[lo] as Hash;
  const k = largestPowerOfTwoBelow(n);
  return nodeHash(rootOf(leaves, lo, lo + k), rootOf(leaves, lo + k, hi));
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** RFC 9162 2.1.3.1: the audit path of leaf m in the tree of leaves[0, n). */
export function inclusionProof(leaves: readonly Hash[], m: number, n = leaves.length): Hash[] {
  if (m < 0 || m >= n || n > leaves.length)
    throw new RangeError(`inclusion proof: leaf ${m} of ${n}`);
  const path = (lo: number, hi: number, idx: number): Hash[] => {
    if (hi - lo <= 1) return [];
    const k = largestPowerOfTwoBelow(hi - lo);
    return idx < k
      ? [...path(lo, lo + k, idx), rootOf(leaves, lo + k, hi)]
      : [...path(lo + k, hi, idx - k), rootOf(leaves, lo, lo + k)];
  };
  return path(0, n, m);
}

/** RFC 9162 2.1.3.2: verifies that `leaf` is leaf `index` of a tree of `size` with `root`. */
export function verifyInclusion(
  leaf: Hash,
  index: number,
  size: number,
  proof: readonly Hash[],
  root: Hash,
): boolean {
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn & 1 || fn === sn) {
      r = nodeHash(p, r);
      if (!(fn & 1)) {
        while (fn !== 0 && !(fn & 1)) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 2.1.4.1: proof that the tree of size m is a prefix of the tree of size n. */
export function consistencyProof(leaves: readonly Hash[], m: number, n = leaves.length): Hash[] {
  if (m < 1 || m > n || n > leaves.length) throw new RangeError(`consistency proof: ${m} of ${n}`);
  const subproof = (mm: number, lo: number, hi: number, complete: boolean): Hash[] => {
    const size = hi - lo;
    if (mm === size) return complete ? [] : [rootOf(leaves, lo, hi)];
    const k = largestPowerOfTwoBelow(size);
    return mm <= k
      ? [...subproof(mm, lo, lo + k, complete), rootOf(leaves, lo + k, hi)]
      : [...subproof(mm - k, lo + k, hi, false), rootOf(leaves, lo, lo + k)];
  };
  return subproof(m, 0, n, true);
}

/** RFC 9162 2.1.4.2. */
export function verifyConsistency(
  m: number,
  n: number,
  oldRoot: Hash,
  newRoot: Hash,
  proof: readonly Hash[],
): boolean {
  if (m < 1 || m > n) return false;
  if (m === n) return proof.length === 0 && oldRoot.equals(newRoot);
  const path = [...proof];
  // If m is an exact power of two, the old root is the first node of the path.
  if (Number.isInteger(Math.log2(m))) path.unshift(oldRoot);
  let fn = m - 1;
  let sn = n - 1;
  while (fn & 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0];
  let sr = path[0];
  if (!fr || !sr) return false;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn & 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!(fn & 1)) {
        while (fn !== 0 && !(fn & 1)) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(oldRoot) && sr.equals(newRoot);
}
