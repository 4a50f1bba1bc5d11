// Where a policy's log files live: the directory of each glob in spec.source.paths. Each
// directory becomes one shared emptyDir; an app container mounts it at that directory through
// a subPath named after the container, and the sidecar mounts the whole volume at the same
// directory, so it reads <dir>/<container>/<file> and two containers never write one file.
import { posix } from "node:path";
import type { AuditPolicySpec } from "./api/policy.ts";

export interface LogDir {
  dir: string;
  volume: string;
  /** The globs under dir, relative to it. */
  globs: string[];
}

const GLOB = /[*?[{]/;

export function logDirs(spec: AuditPolicySpec): LogDir[] {
  const byDir = new Map<string, string[]>();
  for (const path of spec.source.paths) {
    const parts = posix.normalize(path).split("/");
    const firstGlob = parts.findIndex((p) => GLOB.test(p));
    // The directory is everything before the file name, or before the first glob segment.
    const cut = firstGlob === -1 ? parts.length - 1 : Math.min(firstGlob, parts.length - 1);
    const dir = parts.slice(0, cut).join("/") || "/";
    const rest = parts.slice(cut).join("/");
    byDir.set(dir, [...(byDir.get(dir) ?? []), rest]);
  }
  return [...byDir.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([dir, globs], i) => ({ dir, volume: `auditready-logs-${i}`, globs }));
}

/** The sidecar's view of a container's logs under a log dir. */
export function sidecarPaths(dirs: readonly LogDir[], container: string): string[] {
  return dirs.flatMap((d) => d.globs.map((g) => posix.join(d.dir, container, g)));
}

/** Offsets and tree state live beside the logs, on the same volume, in a dot-directory. */
export function stateDir(dirs: readonly LogDir[]): string {
  return posix.join(dirs[0]?.dir ?? "/", ".auditready");
}
