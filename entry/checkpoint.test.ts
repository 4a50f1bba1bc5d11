// The sealer's per-checkpoint signer must give exactly the note signNote gives.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NoteSigner, signNote } from "./checkpoint.ts";
import { generateSigningKey } from "./keys.ts";

describe("NoteSigner", () => {
  it("signs the same note as signNote", () => {
    const key = generateSigningKey();
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", minLength: 1 }).filter((o) => !/[\n\r]/.test(o)),
        fc.nat(),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.nat(),
        fc.date({ noInvalidDate: true }),
        (origin, size, rootBytes, epoch, date) => {
          const root = Buffer.from(rootBytes);
          const time = date.toISOString();
          const signer = new NoteSigner(origin, key);
          const { body, signature } = signer.sign(size, root.toString("base64"), epoch, time);
          expect(`${body}\n${signer.linePrefix}${signature}\n`).toBe(
            signNote({ origin, size, root, epoch, time }, [key]),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it("refuses an origin that is empty or more than one line", () => {
    const key = generateSigningKey();
    for (const origin of ["", "a\nb", "a\r"]) expect(() => new NoteSigner(origin, key)).toThrow();
  });
});
