// The witness's cosignature: the C2SP tlog-cosignature v1 bytes, and that nothing else verifies.
import { describe, expect, it } from "vitest";
import { parseNote, signNote } from "./checkpoint.ts";
import {
  cosignatureKeyHash,
  cosignedMessage,
  cosignNote,
  defaultWitnessName,
  verifyCosignatures,
} from "./cosignature.ts";
import { generateSigningKey, verifyBytes } from "./keys.ts";
import { cosignatureMessage, readCosignature } from "./witness.ts";

const log = generateSigningKey();
const witness = generateSigningKey();
const name = defaultWitnessName(witness);
const note = signNote(
  {
    origin: "c/ns/pod/app/var/log/a.log",
    size: 42,
    root: Buffer.alloc(32, 7),
    epoch: 3,
    time: "2026-11-23T10:00:00.000Z",
  },
  [log],
);
const T = 1_795_000_000;

describe("witness cosignatures", () => {
  it("signs cosignature/v1, the time line and the whole note body, in a C2SP signature line", () => {
    const cosigned = cosignNote(note, witness, name, T);
    expect(cosigned.startsWith(note)).toBe(true);
    const line = cosigned.slice(note.length);
    expect(line).toMatch(new RegExp(`^\u2014 ${name.replace("/", "\\/")} [A-Za-z0-9+/=]+\n$`));
    const blob = Buffer.from(line.trim().split(" ")[2] as string, "base64");
    expect(blob.length).toBe(76);
    expect(blob.subarray(0, 4)).toEqual(cosignatureKeyHash(name, witness.publicKey));
    expect(blob.readBigUInt64BE(4)).toBe(BigInt(T));
    const body = parseNote(note).body;
    expect(cosignedMessage(body, T).toString()).toBe(`cosignature/v1\ntime ${T}\n${body}`);
    expect(verifyBytes(witness.publicKey, cosignedMessage(body, T), blob.subarray(12))).toBe(true);
  });

  it("verifies with the witness key only; the log's own signature is not a cosignature", () => {
    const parsed = parseNote(cosignNote(note, witness, name, T));
    expect(verifyCosignatures(parsed, [witness.publicKey]).valid).toEqual([
      { keyId: witness.keyId, name, time: T },
    ]);
    expect(verifyCosignatures(parsed, [log.publicKey]).valid).toEqual([]);
    expect(verifyCosignatures(parseNote(note), [witness.publicKey]).valid).toEqual([]);
  });

  it("fails for every flipped bit of the cosigned body, time or signature", () => {
    const cosigned = cosignNote(note, witness, name, T);
    const lineStart = note.length;
    const bodyEnd = parseNote(note).body.length;
    const blobText = cosigned.slice(lineStart).trim().split(" ")[2] as string;
    const blob = Buffer.from(blobText, "base64");
    let caught = 0;
    // Every bit of the time and the signature in the signature line.
    for (let bit = 32; bit < blob.length * 8; bit++) {
      const flipped = Buffer.from(blob);
      flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7));
      const text = cosigned.replace(blobText, flipped.toString("base64"));
      if (verifyCosignatures(parseNote(text), [witness.publicKey]).valid.length === 0) caught++;
    }
    expect(caught).toBe(blob.length * 8 - 32);
    // A changed size, root or epoch in the body.
    for (const [from, to] of [
      ["\n42\n", "\n43\n"],
      ["epoch 3", "epoch 4"],
      ["BwcH", "BwcI"],
    ] as const) {
      const text = cosigned.slice(0, bodyEnd).replace(from, to) + cosigned.slice(bodyEnd);
      expect(text).not.toBe(cosigned);
      const r = verifyCosignatures(parseNote(text), [witness.publicKey]);
      expect(r.valid).toEqual([]);
      expect(r.invalid).toEqual([name]);
    }
  });

  it("a witness-topic message reads back only with a trusted key and fields that match the note", () => {
    const { key, value, message } = cosignatureMessage(note, witness, name, T);
    expect(key).toBe("c/ns/pod/app/var/log/a.log");
    expect(readCosignature(value, [witness.publicKey]).witnessed).toEqual({
      epoch: 3,
      size: 42,
      root: Buffer.alloc(32, 7).toString("base64"),
      checkpointTime: "2026-11-23T10:00:00.000Z",
      cosignedAt: new Date(T * 1000).toISOString(),
      witness: name,
    });
    expect(() => readCosignature(value, [log.publicKey])).toThrow(/no cosignature by a trusted/);
    const lying = Buffer.from(JSON.stringify({ ...message, size: 41 }));
    expect(() => readCosignature(lying, [witness.publicKey])).toThrow(/disagree/);
  });
});
