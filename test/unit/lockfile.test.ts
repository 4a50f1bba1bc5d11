// `npm ci` refuses a lockfile that lacks any optional platform package; the registry here does
// not serve some of Biome's, so `npm install` drops them (see test/infra/complete-lockfile.ts).
// This catches a re-lock that forgot to run that script before CI does.
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";

it("package-lock.json lists every optional dependency of every locked package", () => {
  const lock = JSON.parse(
    readFileSync(new URL("../../package-lock.json", import.meta.url), "utf8"),
  ) as {
    packages: Record<string, { optionalDependencies?: Record<string, string> }>;
  };
  const missing = Object.values(lock.packages).flatMap((p) =>
    Object.keys(p.optionalDependencies ?? {}).filter((d) => !lock.packages[`node_modules/${d}`]),
  );
  expect(missing, "run: node test/infra/complete-lockfile.ts").toEqual([]);
});
