// The epoch keys of one tree: those its leaves introduce (epoch-start, key-rotate), in tree
// order, and those this verifier's trusted state saw in it. A key counts only in the tree that
// introduces it (or that this verifier saw it in); whether its checkpoints count is then the
// certificates' call (key-validity.ts).
import type { LeafTable } from "../leaves.ts";
import type { TrustedTree } from "../trust.ts";

interface EpochKey {
  key: Buffer;
  /** The order the tree's leaves introduce it in (-1: from the trusted state). */
  order: number;
  fromState?: boolean;
}

export class EpochKeys {
  private readonly keys = new Map<string, EpochKey>();

  /** Learns the keys of the state's tree, then those `withKey` (leaves) introduce, by seq. */
  constructor(trusted: TrustedTree | undefined, leaves: LeafTable, withKey: number[]) {
    for (const [id, key] of Object.entries(trusted?.keys ?? {}))
      this.keys.set(id, { key: Buffer.from(key, "base64"), order: -1, fromState: true });
    withKey.sort((x, y) => leaves.seqAt(x) - leaves.seqAt(y));
    for (const i of withKey) {
      const { keyId, key } = leaves.extrasAt(i)?.key ?? { keyId: "", key: "" };
      if (keyId !== "" && !this.keys.has(keyId))
        this.keys.set(keyId, { key: Buffer.from(key, "base64"), order: this.keys.size });
    }
  }

  /** The order a key was introduced in (-1: unknown, or from the trusted state). */
  readonly orderOf = (keyId: string): number => this.keys.get(keyId)?.order ?? -1;

  /** Whether only the trusted state vouches for the key. */
  fromState(keyId: string): boolean {
    return this.keys.get(keyId)?.fromState === true;
  }

  /** The public keys by id, to check signatures against. */
  publicKeys(): Map<string, Buffer> {
    return new Map([...this.keys].map(([id, k]) => [id, k.key] as const));
  }

  /** The keys as the trusted state keeps them: base64 by key id. */
  toRecord(): Record<string, string> {
    const keys: Record<string, string> = {};
    for (const [id, k] of this.keys) keys[id] = k.key.toString("base64");
    return keys;
  }
}
