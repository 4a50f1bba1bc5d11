// The project's images for the node: image/build.sh builds (or finds cached) the `auditready`
// image and the demo app's, and prints their archives; containerd imports them as they are.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ComponentError } from "./process.ts";

const root = join(import.meta.dirname, "..", "..");

export interface BuiltImage {
  /** What a pod names: `auditready:<version>`. */
  ref: string;
  archive: string;
}

export interface ProjectImages {
  auditready: BuiltImage;
  demo: BuiltImage;
}

export function imageVersion(): string {
  return (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string })
    .version;
}

export function ensureImages(): Promise<ProjectImages> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [join(root, "image", "build.sh")], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.on("error", (err) => reject(new ComponentError(`image/build.sh: ${err.message}`)));
    child.on("close", (code) => {
      const archives = out.trim().split("\n").filter(Boolean);
      const version = imageVersion();
      // <name>-<version>-<inputs hash>.tar
      const find = (name: string) =>
        archives.find((a) => a.split("/").pop()?.startsWith(`${name}-${version}-`));
      const app = find("auditready");
      const demo = find("auditready-demo");
      if (code !== 0 || !app || !demo) {
        reject(
          new ComponentError(
            `image/build.sh failed (exit ${code}; printed ${JSON.stringify(out.trim())}); see its output above`,
          ),
        );
        return;
      }
      resolve({
        auditready: { ref: `auditready:${version}`, archive: app },
        demo: { ref: `auditready-demo:${version}`, archive: demo },
      });
    });
  });
}
