// Reads the sidecar's config file (YAML or JSON; JSON is YAML) and validates it against the
// schema. Every failure is a `config` SidecarError whose message names the file and the path
// of each bad field ("sink.kafka.brokers[0]: must be host:port"), so a broken ConfigMap is
// diagnosed from one log line.
import { readFile } from "node:fs/promises";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { messageOf, SidecarError } from "../errors.ts";
import { SidecarConfig } from "./schema.ts";

export async function loadConfigFile(path: string): Promise<SidecarConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new SidecarError("config", `config ${path}: cannot read: ${messageOf(err)}`, {
      retriable: false,
      cause: err,
    });
  }
  return parseConfig(text, path);
}

export function parseConfig(text: string, source: string): SidecarConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    throw new SidecarError("config", `config ${source}: not valid YAML/JSON: ${first?.message}`, {
      retriable: false,
    });
  }
  const result = SidecarConfig.safeParse(doc.toJS());
  if (!result.success) {
    throw new SidecarError("config", `config ${source}: ${formatIssues(result.error.issues)}`, {
      retriable: false,
    });
  }
  return result.data;
}

/** "a.b[0].c: message" per issue, joined; the root is called "(root)". */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join("; ");
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(root)";
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}
