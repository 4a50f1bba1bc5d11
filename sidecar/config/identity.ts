// The pod's identity, from downward-API env that the operator's injected sidecar spec sets.
// It is not in the config file so one rendered ConfigMap serves every pod of a policy. All
// fields are required: a record without its pod identity is not traceable, so a missing
// variable stops the sidecar at start with the variable's name.
import { z } from "zod";
import { SidecarError } from "../errors.ts";
import { formatIssues } from "./load.ts";

export const IDENTITY_ENV = {
  cluster: "AUDITREADY_CLUSTER",
  pod: "POD_NAME",
  namespace: "POD_NAMESPACE",
  podUid: "POD_UID",
  node: "NODE_NAME",
  serviceAccount: "POD_SERVICE_ACCOUNT",
} as const;

const dnsLabelish = z.string().min(1).max(253);

export const PodIdentity = z
  .object({
    cluster: dnsLabelish.describe("Cluster name, set by the operator (AUDITREADY_CLUSTER)."),
    pod: dnsLabelish,
    namespace: dnsLabelish,
    podUid: z.string().min(1),
    node: dnsLabelish,
    serviceAccount: dnsLabelish,
  })
  .strict();
export type PodIdentity = z.infer<typeof PodIdentity>;

/** Where each variable comes from, for an error that says why it is missing. */
const IDENTITY_SOURCE: Record<keyof typeof IDENTITY_ENV, string> = {
  cluster: "the operator's cluster name (the chart's `cluster` value)",
  pod: "the downward API (metadata.name)",
  namespace: "the downward API (metadata.namespace)",
  podUid: "the downward API (metadata.uid)",
  node: "the downward API (spec.nodeName)",
  serviceAccount:
    "the downward API (spec.serviceAccountName), which the API server fills only with its ServiceAccount admission plugin on",
};

export function identityFromEnv(env: NodeJS.ProcessEnv = process.env): PodIdentity {
  const raw: Record<string, string | undefined> = {};
  for (const [field, variable] of Object.entries(IDENTITY_ENV)) raw[field] = env[variable];
  const empty = (Object.keys(IDENTITY_ENV) as (keyof typeof IDENTITY_ENV)[]).filter((f) => !raw[f]);
  if (empty.length > 0) {
    const what = empty.map((f) => `${IDENTITY_ENV[f]} (from ${IDENTITY_SOURCE[f]})`).join("; ");
    throw new SidecarError(
      "config",
      `pod identity from env: empty or missing ${what}. The injected sidecar sets these; a record without them would not be traceable to its pod`,
      { retriable: false },
    );
  }
  const result = PodIdentity.safeParse(raw);
  if (!result.success) {
    const named = result.error.issues.map((i) => ({
      ...i,
      path: [IDENTITY_ENV[i.path[0] as keyof typeof IDENTITY_ENV] ?? String(i.path[0])],
    }));
    throw new SidecarError("config", `pod identity from env: ${formatIssues(named)}`, {
      retriable: false,
    });
  }
  return result.data;
}

/**
 * The origin of a stream: `<cluster>/<ns>/<pod>/<container>/<file>`, the Kafka key, so one
 * stream stays in one partition and in order.
 */
export function originOf(id: PodIdentity, container: string, file: string): string {
  return `${id.cluster}/${id.namespace}/${id.pod}/${container}/${file.replace(/^\/+/, "")}`;
}

/** The config file path: `--config <path>` / `--config=<path>` wins over AUDITREADY_CONFIG. */
export function configPathFrom(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): string {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--config") {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) {
        throw new SidecarError("config", "--config needs a path", { retriable: false });
      }
      return next;
    }
    if (arg.startsWith("--config=")) return arg.slice("--config=".length);
  }
  const fromEnv = env.AUDITREADY_CONFIG;
  if (fromEnv) return fromEnv;
  throw new SidecarError(
    "config",
    "no config file: pass --config <path> or set AUDITREADY_CONFIG",
    {
      retriable: false,
    },
  );
}
