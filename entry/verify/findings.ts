// Every finding the verifier can report, with its level. Errors make `auditready verify` exit
// non-zero; warnings and information are reported and never hidden. DESIGN.md section 4 and
// TAMPER-CATALOG.md say what each one means; the README has the table for users.

export const FINDING_LEVELS = {
  BAD_FORMAT: "error",
  NON_CANONICAL: "error",
  BAD_SIGNATURE: "error",
  UNKNOWN_KEY: "error",
  KEY_NOT_VALID: "error",
  SEALED_BY_LATER_KEY: "error",
  ROOT_MISMATCH: "error",
  INCONSISTENT_CHECKPOINT: "error",
  BROKEN_CHAIN: "error",
  GAP: "error",
  CONFLICT: "error",
  WRONG_ORIGIN: "error",
  STALE: "error",
  UNSEALED_TAIL: "warning",
  UNCLEAN_END: "warning",
  EPOCH_UNLINKED: "warning",
  HEAD_TRUNCATED: "warning",
  CLOCK_ANOMALY: "warning",
  DUPLICATE: "info",
  REORDER: "info",
  ORPHANED: "info",
  REPLAYED_SOURCE: "info",
} as const;

export type FindingCode = keyof typeof FINDING_LEVELS;
export type FindingLevel = (typeof FINDING_LEVELS)[FindingCode];

export interface Finding {
  code: FindingCode;
  level: FindingLevel;
  origin?: string;
  epoch?: number;
  /** First and last leaf index concerned, when the finding is about leaves. */
  seq?: [number, number];
  /** Where in the input (file line, partition@offset), when it is about one message. */
  position?: string;
  /** How many messages or leaves the finding stands for, when aggregated. */
  count?: number;
  message: string;
}

export function finding(
  code: FindingCode,
  message: string,
  where: Omit<Finding, "code" | "level" | "message"> = {},
): Finding {
  return { code, level: FINDING_LEVELS[code], ...where, message };
}
