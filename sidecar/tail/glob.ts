// Glob patterns of the files to tail, reduced to what a watcher needs: the directory to watch
// (the longest prefix without glob characters), how deep to look, and a matcher. Node's own
// `path.matchesGlob` does the matching, so the sidecar and `fs.glob` agree on every pattern.
import { matchesGlob, sep } from "node:path";

const GLOB_CHARS = /[*?[\]{}]/;

export interface WatchRoot {
  dir: string;
  /** Directory levels below `dir` to watch; undefined for `**`. */
  depth: number | undefined;
}

export function watchRoot(pattern: string): WatchRoot {
  const parts = pattern.split(sep);
  const firstGlob = parts.findIndex((p) => GLOB_CHARS.test(p));
  if (firstGlob === -1) {
    return { dir: parts.slice(0, -1).join(sep) || sep, depth: 0 };
  }
  const dir = parts.slice(0, firstGlob).join(sep) || sep;
  const rest = parts.slice(firstGlob);
  return { dir, depth: rest.includes("**") ? undefined : rest.length - 1 };
}

export function matcher(patterns: readonly string[]): (path: string) => boolean {
  // matchesGlob parses its pattern on every call (4-9 µs each), and the watcher asks about the
  // same few paths on every write: answers are remembered (bounded: forgotten past 1,024 paths).
  const known = new Map<string, boolean>();
  return (path) => {
    let matched = known.get(path);
    if (matched === undefined) {
      matched = patterns.some((p) => matchesGlob(path, p));
      if (known.size >= 1_024) known.clear();
      known.set(path, matched);
    }
    return matched;
  };
}

/** chokidar's depth for a set of roots: the deepest, or unlimited when any has `**`. */
export function depthOf(roots: { depth: number | undefined }[]): { depth?: number } {
  if (roots.some((r) => r.depth === undefined)) return {};
  return { depth: Math.max(...roots.map((r) => r.depth ?? 0)) };
}
