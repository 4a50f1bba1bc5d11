// The image as users run it: image/build.sh builds it twice, one build ignoring every cache and
// writing elsewhere (its own buildah storage, as each build has), and the two archives must be
// the same bytes; then the image is unpacked into an OCI bundle and run with runc as its user,
// on a read-only root filesystem with a tmpfs /tmp (what the chart and the injected sidecar
// give it). Needs buildah and runc (root); no Kafka or API server.
import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const repo = new URL("../..", import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as {
  name: string;
  version: string;
};

interface Archive {
  path: string;
  manifest: { Config: string; RepoTags: string[]; Layers: string[] };
  config: {
    config: { User?: string; Entrypoint?: string[]; WorkingDir?: string; Cmd?: string[] };
    created: string;
  };
}

/** image/build.sh's archives: the last two lines on stdout (auditready, auditready-demo). */
async function build(...args: string[]): Promise<[string, string]> {
  const { stdout } = await run("bash", [join(repo, "image/build.sh"), ...args], {
    maxBuffer: 16 << 20,
  });
  const [app, demo] = stdout.trim().split("\n").slice(-2);
  if (app === undefined || demo === undefined) throw new Error(`no archive paths in: ${stdout}`);
  return [app, demo];
}

function open(path: string): Archive {
  const member = (name: string) =>
    spawnSync("tar", ["-xOf", path, name], { encoding: "utf8", maxBuffer: 1 << 20 }).stdout;
  const [manifest] = JSON.parse(member("manifest.json")) as Archive["manifest"][];
  if (manifest === undefined) throw new Error(`${path}: empty manifest.json`);
  return { path, manifest, config: JSON.parse(member(manifest.Config)) };
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

let work: string;
let app: Archive;
let demo: Archive;
let fresh: [string, string];
let rootfs: string;
let topLevel: string[];
let names: string[];
let baseSpec: { process: object; mounts: object[] };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "auditready-image-test-"));
  // Concurrently: the usual build (reusing the cache when these inputs were built before) and
  // one that ignores it, in its own output folder.
  const [usual, uncached] = await Promise.all([
    build(),
    build("--no-cache", "--out", join(work, "fresh")),
  ]);
  fresh = uncached;
  app = open(usual[0]);
  demo = open(usual[1]);
  rootfs = join(work, "bundle", "rootfs");
  mkdirSync(rootfs, { recursive: true });
  for (const layer of app.manifest.Layers) {
    const r = spawnSync("tar", ["-xf", app.path, "-O", layer], { maxBuffer: 1 << 30 });
    const x = spawnSync("tar", ["-x", "-C", rootfs], { input: r.stdout });
    if (r.status !== 0 || x.status !== 0) throw new Error(`unpacking ${layer}: ${x.stderr}`);
  }
  // Before runc adds its mount points (dev, proc, sys).
  topLevel = readdirSync(rootfs).sort();
  names = spawnSync("find", [rootfs, "-printf", "%P\\n"], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  }).stdout.split("\n");
  const spec = spawnSync("runc", ["spec", "--bundle", work]);
  if (spec.status !== 0) throw new Error(`runc spec: ${spec.stderr}`);
  baseSpec = JSON.parse(readFileSync(join(work, "config.json"), "utf8"));
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the auditready image", () => {
  it("is the same bytes, so the same digest, when built again from the same inputs without cache", () => {
    expect(fresh[0]).not.toBe(app.path);
    const again = open(fresh[0]);
    expect(again.manifest).toEqual(app.manifest);
    expect(sha256(fresh[0])).toBe(sha256(app.path));
    expect(sha256(fresh[1])).toBe(sha256(demo.path));
  });

  it("is named <name>:<version> from package.json, as containerd names an imported image", () => {
    expect(app.manifest.RepoTags).toEqual([`docker.io/library/${pkg.name}:${pkg.version}`]);
    expect(demo.manifest.RepoTags).toEqual([`docker.io/library/${pkg.name}-demo:${pkg.version}`]);
  });

  it("runs as uid 65532 through the auditready entrypoint, with no build-time timestamp", () => {
    expect(app.config.config.User).toBe("65532:65532");
    expect(app.config.config.Entrypoint).toEqual([
      "/usr/local/bin/node",
      "/app/bin/auditready.mjs",
    ]);
    expect(app.config.config.Cmd ?? []).toEqual([]);
    expect(app.config.config.WorkingDir).toBe("/app");
    expect(app.config.created).toBe("1970-01-01T00:00:00Z");
  });

  it("shares its Node layer with the demo image, which runs as uid 1000", () => {
    expect(demo.manifest.Layers[0]).toBe(app.manifest.Layers[0]);
    expect(demo.manifest.Layers).toHaveLength(2);
    expect(demo.config.config.User).toBe("1000:1000");
    expect(demo.config.config.Entrypoint).toEqual(["/usr/local/bin/node", "/demo/app.mjs"]);
  });

  it("holds node, its libraries, the app, /etc and /tmp only: no shell, no npm, no tests", () => {
    expect(topLevel).toEqual(["app", "etc", "lib", "lib64", "tmp", "usr"]);
    expect(existsSync(join(rootfs, "bin/sh"))).toBe(false);
    expect(existsSync(join(rootfs, "usr/bin"))).toBe(false);
    expect(names.filter((n) => /(^|\/)(npm|npx|sh|bash)$/.test(n))).toEqual([]);
    expect(names.filter((n) => /^app\/(?!node_modules\/).*\.test\.ts$/.test(n))).toEqual([]);
    expect(names.filter((n) => /^app\/(test|bench|charts|README)/.test(n))).toEqual([]);
    expect(readFileSync(join(rootfs, "etc/passwd"), "utf8")).toMatch(/^nonroot:x:65532:65532:/m);
  });

  it.each([
    [
      ["--help"],
      /Commands:\n {2}operator .*\n[\s\S]* {2}sidecar [\s\S]* {2}verify [\s\S]* {2}keys /,
    ],
    [["sidecar", "--help"], /^auditready-sidecar: [\s\S]*Usage: auditready-sidecar \[--config/],
    [["verify", "--help"], /^Usage: auditready verify /],
    [["operator", "--help"], /^Usage: auditready operator\n/],
  ])("runs `auditready %j` as uid 65532 on a read-only root with runc, exit 0", (args, output) => {
    const r = runc(args);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(output);
    expect(r.status).toBe(0);
  });

  it("exits 2 with the usage for an unknown command", () => {
    const r = runc(["nope"]);
    expect(r.stderr).toMatch(/^auditready: unknown command nope\n/);
    expect(r.status).toBe(2);
  });
});

let runs = 0;
/** Runs the image's entrypoint with `args` in a runc container, as the image's user. */
function runc(args: string[]) {
  const bundle = join(work, "bundle");
  const [uid, gid] = (app.config.config.User ?? "").split(":").map(Number);
  const config = {
    ...baseSpec,
    process: {
      ...baseSpec.process,
      terminal: false,
      user: { uid, gid },
      args: [...(app.config.config.Entrypoint ?? []), ...args],
      cwd: app.config.config.WorkingDir,
      env: ["PATH=/usr/local/bin", "NODE_ENV=production"],
    },
    root: { path: "rootfs", readonly: true },
    mounts: [
      ...baseSpec.mounts,
      {
        destination: "/tmp",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "nodev", "mode=1777", "size=64m"],
      },
    ],
  };
  writeFileSync(join(bundle, "config.json"), JSON.stringify(config));
  const id = `auditready-image-test-${process.pid}-${++runs}`;
  return spawnSync("runc", ["--root", join(work, "runc"), "run", "--bundle", bundle, id], {
    encoding: "utf8",
    timeout: 60_000,
  });
}
