// `auditready-sidecar --help`: the usage, the environment and every config field, generated
// from the zod schema (its descriptions and defaults), so the help can never drift from what
// the loader accepts.

import { z } from "zod";
import { DEFAULT_NODE_FLAGS } from "../launch.ts";
import { IDENTITY_ENV } from "./identity.ts";
import { SidecarConfig } from "./schema.ts";

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
}

export function helpText(): string {
  const schema = z.toJSONSchema(SidecarConfig, { io: "input", unrepresentable: "any" });
  const fields: string[] = [];
  walk(schema as JsonSchema, "", true, fields);
  return [
    "auditready-sidecar: tails an app's access log, seals each line into a signed audit record",
    "and publishes it to Kafka (or a local ledger file), with nothing lost and nothing silent.",
    "",
    "Usage: auditready-sidecar [--config <file>] [--help]",
    "",
    "  --config <file>   the config file (YAML or JSON); or AUDITREADY_CONFIG",
    "  --help            this text",
    "",
    "Environment (the pod's identity, from the downward API; all required):",
    ...Object.entries(IDENTITY_ENV).map(([f, v]) => `  ${v.padEnd(22)} ${f}`),
    "  AUDITREADY_LOG_LEVEL   debug | info | warn | error (default info)",
    "  AUDITREADY_GRACE_MS    drain budget after SIGTERM in ms (default 25000)",
    `  AUDITREADY_NODE_FLAGS  V8 flags the process restarts itself with (default ${DEFAULT_NODE_FLAGS.join(" ")};`,
    '                         "" for none; flags already in NODE_OPTIONS win)',
    "",
    "Config file fields (* required):",
    ...fields,
    "",
    "Endpoints: GET /healthz, /readyz, /metrics on server.host:server.port.",
  ].join("\n");
}

function walk(s: JsonSchema, path: string, required: boolean, out: string[]): void {
  const variants = s.anyOf ?? s.oneOf;
  if (variants && !s.properties) {
    const objects = variants.filter((v) => v.properties);
    if (objects.length > 0) {
      for (const [i, v] of objects.entries()) {
        out.push(`  ${path}  (form ${i + 1} of ${objects.length})`);
        walk(v, path, required, out);
      }
      return;
    }
  }
  if (s.properties) {
    if (path) out.push(line(path, "object", required, s));
    const req = new Set(s.required ?? []);
    for (const [k, v] of Object.entries(s.properties)) {
      walk(v, path ? `${path}.${k}` : k, req.has(k), out);
    }
    return;
  }
  if (s.type === "array" && s.items?.properties) {
    out.push(line(path, "list", required, s));
    walk(s.items, `${path}[]`, true, out);
    return;
  }
  out.push(line(path, typeOf(s), required, s));
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map(String).join(" | ");
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.type === "array") return `list of ${s.items ? typeOf(s.items) : "any"}`;
  const variants = s.anyOf ?? s.oneOf;
  if (variants) return variants.map(typeOf).join(" | ");
  if (s.type === "object") return "map";
  return Array.isArray(s.type) ? s.type.join(" | ") : (s.type ?? "any");
}

function line(path: string, type: string, required: boolean, s: JsonSchema): string {
  const def = s.default !== undefined ? ` (default ${JSON.stringify(s.default)})` : "";
  const mark = required && s.default === undefined ? "*" : " ";
  const desc = s.description ? `\n      ${s.description}` : "";
  return `${mark} ${path}: ${type}${def}${desc}`;
}
