// The operator process: read settings, build a Kubernetes client, start, stop on SIGTERM.
// Wiring only; everything it starts lives in run.ts and below.
import { isIP } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { routeProcessWarnings } from "../sidecar/sink/process-warnings.ts";
import { startOperator } from "./run.ts";
import { readSettings } from "./settings.ts";

const log = pino({ name: "auditready-operator" });
// Node's process warnings as JSON log lines like everything else the operator prints.
routeProcessWarnings((w) => log.warn({ warning: w.name }, w.message));
const read = readSettings(process.env);
if (!read.ok) {
  log.fatal({ problem: read.message }, "invalid configuration");
  process.exit(2);
}
const s = read.settings;
log.level = s.AUDITREADY_LOG_LEVEL;
const kc = new KubeConfig();
kc.loadFromDefault();

const service = s.AUDITREADY_WEBHOOK_SERVICE;
const urlHost = s.AUDITREADY_WEBHOOK_URL ? new URL(s.AUDITREADY_WEBHOOK_URL).hostname : undefined;
const operator = await startOperator({
  kc,
  namespace: s.AUDITREADY_NAMESPACE,
  cluster: s.AUDITREADY_CLUSTER,
  identity: s.POD_NAME,
  log,
  webhook: {
    host: s.AUDITREADY_WEBHOOK_HOST,
    port: s.AUDITREADY_WEBHOOK_PORT,
    endpoint: s.AUDITREADY_WEBHOOK_URL
      ? { url: s.AUDITREADY_WEBHOOK_URL }
      : {
          service: {
            namespace: s.AUDITREADY_NAMESPACE,
            name: service,
            port: s.AUDITREADY_WEBHOOK_SERVICE_PORT,
          },
        },
    configurationName: s.AUDITREADY_WEBHOOK_CONFIGURATION,
    certSecretName: s.AUDITREADY_CERT_SECRET,
    // The serving certificate names what the API server dials: the URL's host (an IP or a
    // DNS name) or the Service's DNS names.
    dnsNames:
      urlHost !== undefined
        ? isIP(urlHost)
          ? []
          : [urlHost]
        : [
            `${service}.${s.AUDITREADY_NAMESPACE}.svc`,
            `${service}.${s.AUDITREADY_NAMESPACE}.svc.cluster.local`,
          ],
    ipAddresses: urlHost !== undefined && isIP(urlHost) ? [urlHost] : [],
  },
  leaseName: s.AUDITREADY_LEASE,
  certValidityMs: s.AUDITREADY_CERT_VALIDITY_SECONDS * 1_000,
  ...(s.AUDITREADY_POLICY_SELECTOR && { policySelector: s.AUDITREADY_POLICY_SELECTOR }),
});
log.info({ port: operator.webhookPort, identity: s.POD_NAME }, "operator started");

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    log.info({ signal }, "stopping");
    void operator.stop().then(() => process.exit(0));
  });
}
