// The signing settings an AuditPolicy sets and the sidecar's config carries: one definition, so
// the CRD, the config the operator renders and the sidecar that reads it agree on names,
// bounds, defaults and descriptions.
import { z } from "zod";

export const SigningMode = z
  .enum(["seal", "entry"])
  .default("seal")
  .describe(
    "seal: a signed checkpoint every sealEvery entries or millis; entry: every record is signed.",
  );

export const SealEvery = z
  .object({
    entries: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(1_000)
      .describe("Seal after this many records."),
    millis: z
      .number()
      .int()
      .min(10)
      .max(3_600_000)
      .default(1_000)
      .describe("Seal at least this often while records arrive."),
  })
  .strict()
  .prefault({})
  .describe("When a checkpoint is signed in seal mode.");

export const HeartbeatSeconds = z
  .number()
  .int()
  .min(1)
  .max(3_600)
  .default(30)
  .describe("A signed heartbeat checkpoint this often when idle.");
