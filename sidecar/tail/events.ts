// What the tailer hands downstream, in file order: lines, losses and file ends. Each carries
// a `source` (one generation of one file) so that, once the sink acknowledged it, the commit
// point is known without a lookup: positions advance only on those acknowledgements.
import type { SplitLine } from "./lines.ts";

/** One generation of one file: a new one starts when the file is truncated under us. */
export interface SourceFile {
  /** `<dev>:<ino>`: the file's identity while it exists. */
  readonly key: string;
  readonly dev: string;
  readonly ino: string;
  readonly generation: number;
  /** Where the file is now (updated in place when it is renamed to a matching name). */
  path: string;
  /** The fingerprint (SHA-256 of the first fpLen bytes) that tells this content apart. */
  fpLen: number;
  fpHash: string;
  /** Largest size observed. */
  seenSize: number;
}

export interface TailLine extends SplitLine {
  readonly kind: "line";
  readonly source: SourceFile;
  /** The path the line was read from. */
  readonly file: string;
  readonly inode: string;
}

export const LOSS_REASONS = [
  "truncated",
  "inode-reused",
  "deleted-unread",
  // A matching file the sidecar may not open (EACCES: the app wrote it without a group read
  // bit): what it held then is reported, and reading starts at 0 if it becomes readable.
  "file-unreadable",
] as const;
export type LossReason = (typeof LOSS_REASONS)[number];

/**
 * Bytes [lostFrom, lostTo) of a file were never read and cannot be any more. lostTo is the
 * largest size observed, so the real loss may be larger; it is never smaller. While the
 * tailer runs, a loss is reported only when lostTo > lostFrom; a file found truncated or
 * replaced under its saved offset at start is always reported, lostTo = lostFrom meaning
 * "unknown extent".
 */
export interface LossEvent {
  readonly kind: "loss";
  readonly file: string;
  readonly inode: string;
  readonly reason: LossReason;
  readonly lostFrom: number;
  readonly lostTo: number;
  /** The generation reading goes on with, and where; null when the file is gone. */
  readonly source: SourceFile;
  readonly resumeAt: number | null;
}

/** The tailer read a rotated or deleted file to its end and closed it. */
export interface FileEndEvent {
  readonly kind: "end";
  readonly file: string;
  readonly source: SourceFile;
  readonly endOffset: number;
  readonly reason: "rotated" | "deleted";
}

export type TailEvent = TailLine | LossEvent | FileEndEvent;
