// The image as users run it: image/build.sh builds it twice, one build ignoring every cache and
// writing elsewhere (its own buildah storage, as each build has), and the two archives must be
// the same bytes; then the image is unpacked into an OCI bundle and run with runc as its user,
// on a read-only root filesystem with a tmpfs /tmp (what the chart and the injected sidecar
// give it); the demo image serves a request and logs it. Needs buildah and runc (root); no
// Kafka or API server.
import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMBINED } from "../../entry/normalize/access-log.ts";

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
    config: {
      User?: string;
      Entrypoint?: string[];
      WorkingDir?: string;
      Cmd?: string[];
      Env?: string[];
    };
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
let demoRootfs: string;
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
  rootfs = unpack(app, join(work, "bundle"));
  demoRootfs = unpack(demo, join(work, "demo-bundle"));
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

/** The image's layers, in order, into <bundle>/rootfs. */
function unpack(image: Archive, bundle: string): string {
  const dir = join(bundle, "rootfs");
  mkdirSync(dir, { recursive: true });
  for (const layer of image.manifest.Layers) {
    const r = spawnSync("tar", ["-xf", image.path, "-O", layer], { maxBuffer: 1 << 30 });
    const x = spawnSync("tar", ["-x", "-C", dir], { input: r.stdout });
    if (r.status !== 0 || x.status !== 0) throw new Error(`unpacking ${layer}: ${x.stderr}`);
  }
  return dir;
}

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
    const r = runc(app, join(work, "bundle"), [...(app.config.config.Entrypoint ?? []), ...args]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(output);
    expect(r.status).toBe(0);
  });

  // The processes load all their modules and dependencies before reading their settings, so a
  // start without them proves the image carries everything they import.
  it("starts the operator and the sidecar, which stop on their missing settings with their names", () => {
    const entry = app.config.config.Entrypoint ?? [];
    const operator = runc(app, join(work, "bundle"), [...entry, "operator"]);
    expect(operator.stdout).toMatch(/"msg":"invalid configuration"/);
    expect(operator.stdout).toContain("AUDITREADY_CLUSTER");
    expect(operator.status).toBe(2);
    const sidecar = runc(app, join(work, "bundle"), [...entry, "sidecar", "--config", "/x.yaml"]);
    expect(sidecar.stdout).toMatch(/"event":"start-failed".*POD_NAMESPACE/);
    expect(sidecar.status).toBe(1);
  });

  it("exits 2 with the usage for an unknown command", () => {
    const r = runc(app, join(work, "bundle"), [...(app.config.config.Entrypoint ?? []), "nope"]);
    expect(r.stderr).toMatch(/^auditready: unknown command nope\n/);
    expect(r.status).toBe(2);
  });
});

describe("the auditready-demo image", () => {
  it("serves as uid 1000, logs each request as a combined line in a 0640 file, stops on SIGTERM", () => {
    const [node, appModule] = demo.config.config.Entrypoint ?? [];
    expect(node).toBe("/usr/local/bin/node");
    expect(statSync(join(demoRootfs, "var/log/app")).uid).toBe(1000);
    // The pod's emptyDir for the log folder: a host folder the app's user owns.
    const logs = join(work, "demo-logs");
    mkdirSync(logs);
    chownSync(logs, 1000, 1000);
    // The app's own module, then one request, then SIGTERM to itself: its handler must exit 0.
    const script = `await import(${JSON.stringify(appModule)});
const r = await fetch("http://127.0.0.1:8080/orders/42?x=1", {
  headers: { authorization: "Basic " + Buffer.from("ann:pw").toString("base64") },
});
console.log("status", r.status, await r.text());
setTimeout(() => process.kill(process.pid, "SIGTERM"), 100);`;
    const r = runc(
      demo,
      join(work, "demo-bundle"),
      [node ?? "", "--input-type=module", "-e", script],
      [{ destination: "/var/log/app", type: "bind", source: logs, options: ["rbind", "rw"] }],
    );
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("status 200 auditready-demo: GET /orders/42?x=1");
    expect(r.status).toBe(0);
    const file = join(logs, "access.log");
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(statSync(file).uid).toBe(1000);
    const lines = readFileSync(file, "utf8").split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(COMBINED);
    expect(lines[0]).toMatch(
      /^127\.0\.0\.1 - ann \[.+\] "GET \/orders\/42\?x=1 HTTP\/1\.1" 200 \d+ "-" "node"$/,
    );
  });
});

let runs = 0;
/**
 * Runs `args` in a runc container of the image unpacked in `bundle`, as the image's user, with
 * its environment and working folder, on a read-only root with a tmpfs /tmp.
 */
function runc(image: Archive, bundle: string, args: string[], mounts: object[] = []) {
  const [uid, gid] = (image.config.config.User ?? "").split(":").map(Number);
  const config = {
    ...baseSpec,
    process: {
      ...baseSpec.process,
      terminal: false,
      user: { uid, gid },
      args,
      cwd: image.config.config.WorkingDir,
      env: image.config.config.Env ?? [],
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
      ...mounts,
    ],
  };
  writeFileSync(join(bundle, "config.json"), JSON.stringify(config));
  const id = `auditready-image-test-${process.pid}-${++runs}`;
  return spawnSync("runc", ["--root", join(work, "runc"), "run", "--bundle", bundle, id], {
    encoding: "utf8",
    timeout: 60_000,
  });
}
