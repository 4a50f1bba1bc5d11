// What the tailer reports about itself, for ops/events.ts to turn into metrics and log lines,
// and the summary of a delivered batch (lines, bytes, flags, losses) it is derived from.
import type { SidecarError } from "../errors.ts";
import type { LossEvent, TailEvent } from "./events.ts";

export type TailObservation =
  | { type: "file-opened"; file: string; inode: string; generation: number; from: number }
  | { type: "file-rotated"; file: string; inode: string }
  | { type: "file-closed"; file: string; inode: string; reason: "rotated" | "deleted" }
  | { type: "lines-read"; file: string; lines: number; bytes: number }
  | { type: "line-flagged"; file: string; flag: "truncated" | "invalid-utf8" | "unterminated" }
  | { type: "data-lost"; file: string; reason: LossEvent["reason"]; bytes: number }
  | { type: "tail-error"; file: string; error: SidecarError }
  | { type: "file-unreadable"; file: string; code: string; bytes: number }
  /** An unreadable file is no longer so: it can be read now, or it is gone. */
  | { type: "file-readable"; file: string; how: "readable" | "gone" };

export function observeEvents(events: TailEvent[], observe: (o: TailObservation) => void): void {
  let lines = 0;
  let bytes = 0;
  for (const e of events) {
    if (e.kind === "line") {
      lines++;
      bytes += e.endOffset - e.offset;
      if (e.truncated) observe({ type: "line-flagged", file: e.file, flag: "truncated" });
      if (e.invalidUtf8) observe({ type: "line-flagged", file: e.file, flag: "invalid-utf8" });
      if (e.unterminated) observe({ type: "line-flagged", file: e.file, flag: "unterminated" });
    } else if (e.kind === "loss") {
      observe({ type: "data-lost", file: e.file, reason: e.reason, bytes: e.lostTo - e.lostFrom });
    }
  }
  const first = events[0];
  if (lines > 0 && first) observe({ type: "lines-read", file: first.file, lines, bytes });
}
