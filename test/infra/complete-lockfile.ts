// The npm registry reachable on this project's machines serves only Biome's Linux glibc binaries
// (@biomejs/cli-linux-x64, -arm64); the darwin, win32, android and musl ones answer 404, so
// `npm install` here writes a package-lock.json without them and `npm ci` then refuses it as
// out of sync. This adds the missing entries as optional, platform-gated packages: skipped on
// this platform, fetched normally elsewhere. Run it after any `npm install` that re-locks:
//   node test/infra/complete-lockfile.ts
import { readFileSync, writeFileSync } from "node:fs";

interface LockEntry {
  version?: string;
  dev?: boolean;
  optionalDependencies?: Record<string, string>;
  [key: string]: unknown;
}

const path = new URL("../../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8")) as { packages: Record<string, LockEntry> };
const added: string[] = [];
for (const [key, entry] of Object.entries(lock.packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const depKey = `node_modules/${dep}`;
    if (lock.packages[depKey]) continue;
    const platform = /^@biomejs\/cli-(android|darwin|linux|win32)-(x64|arm64)(-musl)?$/.exec(dep);
    if (!platform)
      throw new Error(
        `${key}: optional ${dep} is missing from the lock and is not a known platform package`,
      );
    const [, os = "", cpu = "", musl] = platform;
    lock.packages[depKey] = {
      version,
      cpu: [cpu],
      ...(entry.dev ? { dev: true } : {}),
      ...(os === "linux" ? { libc: [musl ? "musl" : "glibc"] } : {}),
      optional: true,
      os: [os],
    };
    added.push(`${dep}@${version}`);
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) =>
    a === "" ? -1 : b === "" ? 1 : a.localeCompare(b),
  ),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(
  added.length
    ? `complete-lockfile: added ${added.join(", ")}`
    : "complete-lockfile: nothing missing",
);
