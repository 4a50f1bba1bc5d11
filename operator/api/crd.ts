// Builds the AuditPolicy CustomResourceDefinition from the zod schemas in policy.ts. zod's JSON
// Schema is turned into a Kubernetes structural schema: no additionalProperties:false (the API
// server prunes unknown fields instead), unions of single-key objects become one object with a
// CEL "exactly one of" rule, and zod's safe-integer bounds are dropped. Every property must
// carry a description (for `kubectl explain`); a missing one is an error, not a silent gap.
import { z } from "zod";
import {
  AuditPolicySpec,
  AuditPolicyStatus,
  GROUP,
  KIND,
  PLURAL,
  SINGULAR,
  VERSION,
} from "./policy.ts";

type Schema = { [key: string]: unknown };

export class CrdSchemaError extends Error {
  readonly kind = "CrdSchemaError";
}

const SAFE = Number.MAX_SAFE_INTEGER;
const K8S_FORMATS = new Set(["date-time", "date", "int32", "int64", "uri", "email", "uuid"]);

function structural(node: Schema, path: string, missing: string[]): Schema {
  const out: Schema = {};
  const anyOf = node.anyOf as Schema[] | undefined;
  if (anyOf) return unionOfObjects(node, anyOf, path, missing);
  for (const [key, value] of Object.entries(node)) {
    switch (key) {
      case "$schema":
      case "propertyNames":
        break;
      case "format":
        // zod names checks such as starts_with as formats; the pattern next to it carries them.
        if (K8S_FORMATS.has(value as string)) out[key] = value;
        break;
      case "additionalProperties":
        if (value !== false) out[key] = structural(value as Schema, `${path}.*`, missing);
        break;
      case "minimum":
        if (value !== -SAFE) out[key] = value;
        break;
      case "maximum":
        if (value !== SAFE) out[key] = value;
        break;
      case "default":
        // Object and array defaults would be stored by the API server and blur what the user
        // wrote; the operator applies them when it parses the spec.
        if (typeof value !== "object") out[key] = value;
        break;
      case "properties": {
        const props: Schema = {};
        for (const [name, child] of Object.entries(value as Schema)) {
          const c = child as Schema;
          if (typeof c.description !== "string") missing.push(`${path}.${name}`);
          props[name] = structural(c, `${path}.${name}`, missing);
        }
        out[key] = props;
        break;
      }
      case "items":
        out[key] = structural(value as Schema, `${path}[]`, missing);
        break;
      default:
        out[key] = value;
    }
  }
  // A record keyed by an enum (partialRecord) becomes named optional properties.
  const names = (node.propertyNames as Schema | undefined)?.enum as string[] | undefined;
  if (names && node.additionalProperties && typeof node.additionalProperties === "object") {
    const valueSchema = structural(node.additionalProperties as Schema, `${path}.*`, missing);
    out.properties = Object.fromEntries(
      names.map((n) => [n, { ...valueSchema, description: `Where ${n} is found.` }]),
    );
    delete out.additionalProperties;
  }
  return out;
}

function unionOfObjects(node: Schema, options: Schema[], path: string, missing: string[]): Schema {
  const properties: Schema = {};
  const keys: string[] = [];
  for (const option of options) {
    const required = option.required as string[] | undefined;
    if (option.type !== "object" || required?.length !== 1 || !required[0]) {
      throw new CrdSchemaError(
        `${path}: only unions of objects with exactly one required key map to a CRD`,
      );
    }
    keys.push(required[0]);
    Object.assign(
      properties,
      (structural(option, path, missing) as { properties: Schema }).properties,
    );
  }
  const count = keys.map((k) => `(has(self.${k}) ? 1 : 0)`).join(" + ");
  const rest = Object.fromEntries(Object.entries(node).filter(([k]) => k !== "anyOf"));
  return {
    ...rest,
    type: "object",
    properties,
    "x-kubernetes-validations": [
      { rule: `${count} == 1`, message: `exactly one of ${keys.join(", ")} must be set` },
    ],
  };
}

export function openApiSchema(schema: z.ZodType, path: string): Schema {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "throw" }) as Schema;
  const missing: string[] = [];
  const out = structural(json, path, missing);
  if (missing.length > 0) {
    throw new CrdSchemaError(`fields without a description: ${missing.join(", ")}`);
  }
  return out;
}

export function auditPolicyCrd(): Schema {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: "Namespaced",
      names: {
        plural: PLURAL,
        singular: SINGULAR,
        kind: KIND,
        listKind: `${KIND}List`,
        shortNames: ["ap", "auditpol"],
        categories: ["auditready"],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: "Coverage", type: "string", jsonPath: ".status.coverage" },
            { name: "Topic", type: "string", jsonPath: ".spec.sink.kafka.topic" },
            { name: "Mode", type: "string", jsonPath: ".spec.enforcement" },
            { name: "Integrity", type: "string", jsonPath: ".status.integrity.state" },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
            {
              name: "Ready",
              type: "string",
              jsonPath: '.status.conditions[?(@.type=="Ready")].status',
              priority: 1,
            },
          ],
          schema: {
            openAPIV3Schema: {
              type: "object",
              description:
                "AuditPolicy selects pods in its namespace whose access logs are turned into signed, hash-chained audit records and published to Kafka. The operator injects the sidecar, owns the policy key and the topic, and reports coverage on the status.",
              required: ["spec"],
              properties: {
                apiVersion: {
                  type: "string",
                  description: "APIVersion defines the versioned schema of this object.",
                },
                kind: {
                  type: "string",
                  description: "Kind is the REST resource this object represents.",
                },
                metadata: { type: "object" },
                spec: {
                  ...openApiSchema(AuditPolicySpec, "spec"),
                  description: "What to collect from which pods, and where to publish it.",
                },
                status: {
                  ...openApiSchema(AuditPolicyStatus, "status"),
                  description: "Coverage, keys and conditions, written by the operator.",
                },
              },
            },
          },
        },
      ],
    },
  };
}
