// The operator's own configuration, from environment variables (the Helm chart sets them),
// validated once at start with errors that name the variable.
import { hostname } from "node:os";
import { z } from "zod";

const Settings = z
  .object({
    AUDITREADY_CLUSTER: z.string().min(1).describe("Cluster name stamped on every record."),
    AUDITREADY_NAMESPACE: z.string().min(1).describe("The operator's own namespace."),
    POD_NAME: z
      .string()
      .min(1)
      .default(hostname())
      .describe("This replica's identity on the Lease."),
    AUDITREADY_WEBHOOK_HOST: z.string().default("0.0.0.0"),
    AUDITREADY_WEBHOOK_PORT: z.coerce.number().int().min(0).max(65_535).default(9443),
    AUDITREADY_WEBHOOK_SERVICE: z
      .string()
      .default("auditready-operator")
      .describe("Service in front of the webhook."),
    AUDITREADY_WEBHOOK_SERVICE_PORT: z.coerce.number().int().default(443),
    AUDITREADY_WEBHOOK_URL: z
      .string()
      .url()
      .optional()
      .describe("Use this URL instead of the Service (servers outside the cluster)."),
    AUDITREADY_WEBHOOK_CONFIGURATION: z.string().default("auditready-operator"),
    AUDITREADY_CERT_SECRET: z.string().default("auditready-webhook-cert"),
    AUDITREADY_LEASE: z.string().default("auditready-operator"),
    AUDITREADY_POLICY_SELECTOR: z
      .string()
      .optional()
      .describe("Only AuditPolicies matching this label selector are handled."),
    AUDITREADY_LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
    AUDITREADY_CERT_VALIDITY_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .max(86_400)
      .default(3_600)
      .describe("How long a certified epoch key stays valid (sidecars renew at two thirds)."),
  })
  .loose();
export type Settings = z.infer<typeof Settings>;

export function readSettings(
  env: NodeJS.ProcessEnv,
): { ok: true; settings: Settings } | { ok: false; message: string } {
  const parsed = Settings.safeParse(env);
  if (parsed.success) return { ok: true, settings: parsed.data };
  return {
    ok: false,
    message: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
  };
}
