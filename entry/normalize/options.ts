// What a policy says about turning lines into records: the input format, where each audit
// field sits in a line, which fields are required, what to redact and which lines to exclude.
// This schema is shared: the sidecar's config embeds it and the operator renders it from an
// AuditPolicy, so it is defined once, here.
import { isIP } from "node:net";
import { z } from "zod";

/** The audit fields a line can be mapped onto (the "who, what, when, where, result" of a record). */
export const AUDIT_FIELDS = [
  "actor",
  "actorType",
  "roles",
  "action",
  "resource",
  "time",
  "sourceIp",
  "forwardedFor",
  "userAgent",
  "requestId",
  "outcome",
  "statusCode",
] as const;
export const AuditField = z.enum(AUDIT_FIELDS).describe("An audit field of the normalized record.");
export type AuditField = z.infer<typeof AuditField>;

export const PRESETS = [
  "nginx",
  "apache-vhost",
  "ingress-nginx",
  "traefik-json",
  "caddy-json",
  "envoy-json",
  "envoy-text",
  "haproxy-http",
] as const;

export const LineFormat = z
  .enum(["json", "combined", "common", "logfmt", "regex", ...PRESETS])
  .describe(
    "How lines are parsed: json (one object per line), combined / common (Apache and nginx access logs), logfmt (key=value), regex (named groups), or a preset for a server's own format (nginx, apache-vhost, ingress-nginx, traefik-json, caddy-json, envoy-json, envoy-text, haproxy-http), each with its field map.",
  );
export type LineFormat = z.infer<typeof LineFormat>;

/**
 * A regular expression as written in a policy. A leading inline flag group such as `(?i)` (Go /
 * RE2 style, common in YAML policies) is accepted and turned into JavaScript flags.
 */
export const PolicyRegex = z
  .string()
  .min(1)
  .superRefine((source, ctx) => {
    try {
      compilePolicyRegex(source);
    } catch (err) {
      ctx.addIssue({
        code: "custom",
        message: `invalid regular expression: ${(err as Error).message}`,
      });
    }
  });

export function compilePolicyRegex(source: string, extraFlags = ""): RegExp {
  const m = /^\(\?([ims]+)\)/.exec(source);
  const flags = new Set([...(m?.[1] ?? ""), ...extraFlags]);
  return new RegExp(m ? source.slice(m[0].length) : source, [...flags].join(""));
}

export const RedactRule = z.union([
  z
    .object({
      field: z
        .string()
        .min(1)
        .describe('Dotted path of a field to replace with "[REDACTED]" (json and logfmt lines).'),
    })
    .strict(),
  z
    .object({
      pattern: PolicyRegex.describe(
        'Every match in the raw line (and in parsed values) is replaced with "[REDACTED]".',
      ),
    })
    .strict(),
]);
export type RedactRule = z.infer<typeof RedactRule>;

export const ExcludeRule = z
  .object({
    field: z.string().min(1).describe("An audit field name or a dotted path of the parsed line."),
    pattern: PolicyRegex.describe("Lines whose field matches are not published; they are counted."),
  })
  .strict();
export type ExcludeRule = z.infer<typeof ExcludeRule>;

/** What a line writes for "no value": such a value counts as absent, like an empty one. */
export const DEFAULT_PLACEHOLDERS = ["-", "(null)", "<nil>", "null", "undefined"];

export const Placeholders = z
  .array(z.string().min(1).max(64))
  .max(32)
  .describe(
    'Values that mean "none" (compared whole, after trimming): a field holding one is absent, and a required one is flagged as missing with the placeholder named. An empty or blank value always counts as absent.',
  );

const CIDR = /^[0-9A-Fa-f.:]+(?:\/\d{1,3})?$/;
export const TrustedProxies = z
  .object({
    cidrs: z
      .array(
        z
          .string()
          .regex(CIDR, "an IP address or CIDR, e.g. 10.0.0.0/8 or fd00::/8")
          .refine((c) => isCidr(c), "an IP address or CIDR, e.g. 10.0.0.0/8 or fd00::/8"),
      )
      .min(1)
      .max(64)
      .optional()
      .describe(
        "Proxies whose forwarded addresses are believed: the chain is read from the right, skipping these, and the first other address is the client (nginx real_ip with real_ip_recursive on).",
      ),
    hops: z
      .number()
      .int()
      .min(0)
      .max(32)
      .optional()
      .describe(
        "Or: the last this many hops of the chain are your own proxies; the one before them is the client.",
      ),
  })
  .strict()
  .refine(
    (t) => (t.cidrs === undefined) !== (t.hops === undefined),
    "give exactly one of cidrs or hops",
  )
  .describe(
    "Which hop of a forwarded chain (X-Forwarded-For order, client first) is the client. Without it a chain gives its nearest hop, flagged sourceIp-chain-untrusted.",
  );
export type TrustedProxies = z.infer<typeof TrustedProxies>;

function isCidr(c: string): boolean {
  const [ip = "", bits] = c.split("/");
  const kind = isIP(ip);
  if (kind === 0) return false;
  return bits === undefined || Number(bits) <= (kind === 6 ? 128 : 32);
}

export const NormalizeOptions = z
  .object({
    format: LineFormat,
    pattern: PolicyRegex.optional().describe(
      "For format regex: the expression, with named groups.",
    ),
    fields: z
      .partialRecord(AuditField, z.string().min(1))
      .default({})
      .describe(
        "Where each audit field is found: a dotted path with [n] for an array element (json, e.g. request.headers.User-Agent[0]), a key (logfmt) or a group name (regex). combined, common and the presets have a mapping that this overrides field by field.",
      ),
    required: z
      .array(AuditField)
      .default([])
      .describe(
        "Fields a record must have; records without them are flagged in `violations`, never dropped.",
      ),
    placeholders: Placeholders.default(DEFAULT_PLACEHOLDERS),
    trustedProxies: TrustedProxies.optional(),
    redact: z.array(RedactRule).default([]),
    exclude: z.array(ExcludeRule).default([]),
    maxLineBytes: z
      .number()
      .int()
      .min(256)
      .max(1_048_576)
      .default(16_384)
      .describe(
        "Longer lines are truncated in the record and flagged; their hash covers the whole line.",
      ),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.format === "regex" && !o.pattern) {
      ctx.addIssue({
        code: "custom",
        path: ["pattern"],
        message: "format regex needs a pattern with named groups",
      });
    }
    if (o.format !== "regex" && o.pattern) {
      ctx.addIssue({
        code: "custom",
        path: ["pattern"],
        message: `pattern is only used with format regex, not ${o.format}`,
      });
    }
  });
export type NormalizeOptions = z.infer<typeof NormalizeOptions>;
export type NormalizeOptionsInput = z.input<typeof NormalizeOptions>;
