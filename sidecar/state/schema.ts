// The persisted state document: one typed, versioned JSON file on the shared volume. It holds
// what must survive a restart: where each file was read up to (acknowledged by the sink, not
// merely read) and the sealer's stream state, which this module treats as opaque.
import { z } from "zod";

const decimal = z.string().regex(/^\d+$/, "must be a decimal integer string");
const offset = z.number().int().min(0);

export const FilePosition = z
  .object({
    path: z.string().min(1).describe("Where the file was last seen (it may have been renamed)."),
    dev: decimal.describe("st_dev of the file, as a string (64-bit)."),
    ino: decimal.describe("st_ino of the file, as a string (64-bit)."),
    fpLen: z.number().int().min(0).describe("How many leading bytes the fingerprint covers."),
    fpHash: z.string().regex(/^[0-9a-f]{64}$/, "must be a SHA-256 hex digest"),
    generation: z
      .number()
      .int()
      .min(0)
      .describe("Bumped each time the file was truncated under the tailer (copytruncate)."),
    offset: offset.describe("Every byte before this was delivered and acknowledged."),
    seenSize: offset.describe("The largest size observed; bounds what a lost tail held."),
  })
  .strict();
export type FilePosition = z.infer<typeof FilePosition>;

export const STATE_VERSION = 1;

export const StateDocument = z
  .object({
    version: z.literal(STATE_VERSION),
    savedAt: z.iso.datetime(),
    files: z.array(FilePosition),
    stream: z
      .record(z.string(), z.unknown())
      .nullable()
      .describe("The sealer's state (epoch, tree, keys' ids); opaque here."),
  })
  .strict();
export type StateDocument = z.infer<typeof StateDocument>;

export function emptyState(): StateDocument {
  return { version: STATE_VERSION, savedAt: new Date(0).toISOString(), files: [], stream: null };
}
