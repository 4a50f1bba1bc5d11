// Every finding the verifier can report, with its level. Errors make `auditready verify` exit
// non-zero; warnings and information are reported and never hidden. DESIGN.md section 4 and
// TAMPER-CATALOG.md say what each one means; the README has the table for users. GAP also
// stands for records (or a whole stream) that the trusted state proves existed and that are
// gone when retention does not explain it; HEAD_TRUNCATED is only what retention explains.

export const FINDING_LEVELS = {
  BAD_FORMAT: "error",
  NON_CANONICAL: "error",
  BAD_SIGNATURE: "error",
  UNKNOWN_KEY: "error",
  /** An epoch key with no valid certificate for this origin and epoch: nothing it sealed counts. */
  UNCERTIFIED_KEY: "error",
  /** A record whose `event.k8s` names another pod or container than its key's certificate. */
  IDENTITY_MISMATCH: "error",
  KEY_NOT_VALID: "error",
  /** A checkpoint, certificate or record dated after the verifier's clock (asOf) plus the skew. */
  FUTURE_DATED: "error",
  /** A record or checkpoint of an epoch after that epoch's `epoch-end`: an ended epoch is closed. */
  AFTER_END: "error",
  /** The stream could not be checked at all (an unexpected failure); other streams are unaffected. */
  UNVERIFIABLE: "error",
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
  /** Set on the one entry that stands for findings of its code past the listing limit. */
  unlisted?: number;
  message: string;
}

/** Where a finding points, as a rule reports it (the stream's origin is added for it). */
export type FindingWhere = Omit<Finding, "code" | "level" | "message" | "origin">;

/** How a rule reports what it finds. */
export type Report = (code: FindingCode, message: string, where?: FindingWhere) => void;

export function finding(
  code: FindingCode,
  message: string,
  where: Omit<Finding, "code" | "level" | "message"> = {},
): Finding {
  return { code, level: FINDING_LEVELS[code], ...where, message };
}

/**
 * Findings of one code are listed one by one up to this many per stream (or per Kafka key, for
 * messages that fit no stream); past it they are counted in one entry. A store flooded with
 * garbage (or a stream damaged at every record) then costs the verifier a counter, not memory
 * and a report of millions of lines, and the report still says how many there were.
 */
export const LISTED_PER_CODE = 1000;

export class FindingList {
  private readonly listed: Finding[] = [];
  private readonly seen = new Map<string, number>();
  private readonly beyond = new Map<string, Finding>();
  private readonly limit: number;

  constructor(limit = LISTED_PER_CODE) {
    this.limit = limit;
  }

  push(f: Finding): void {
    const key = `${f.code}\u0000${f.origin ?? ""}`;
    const n = (this.seen.get(key) ?? 0) + 1;
    this.seen.set(key, n);
    if (n <= this.limit) {
      this.listed.push(f);
      return;
    }
    const summary = this.beyond.get(key);
    if (summary) {
      const more = (summary.unlisted ?? 0) + 1;
      summary.unlisted = more;
      summary.message = unlistedMessage(f.code, more, this.limit);
    } else {
      this.beyond.set(key, {
        code: f.code,
        level: f.level,
        ...(f.origin === undefined ? {} : { origin: f.origin }),
        unlisted: 1,
        message: unlistedMessage(f.code, 1, this.limit),
      });
    }
  }

  /** The listed findings in the order they came, then one entry per code past the limit. */
  all(): Finding[] {
    return [...this.listed, ...this.beyond.values()];
  }
}

function unlistedMessage(code: FindingCode, more: number, limit: number): string {
  return `${more} more ${code} finding(s), not listed one by one (the first ${limit} are)`;
}

/** How many findings an entry stands for: one, or the count of an unlisted summary. */
export const findingsIn = (f: Finding): number => f.unlisted ?? 1;
