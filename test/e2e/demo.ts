// The demo workload of the e2e tests and `npm run local`: an AuditPolicy and a Deployment of the
// demo image (a small Node HTTP server that writes a combined-format access log as uid 1000,
// mode 0640), as manifests. One definition for both, so the demo users see is the tested one.

export const DEMO_PORT = 8080;
export const DEMO_LOG_DIR = "/var/log/app";

export interface DemoOptions {
  namespace: string;
  /** The policy's name, the Deployment's, its app label and the topic's suffix. */
  name: string;
  image: string;
  /** The auditready image the sidecar runs (imported on the node, never pulled). */
  sidecarImage: string;
  replicas: number;
  /** Kafka as the pods reach it (the node's bridge address). */
  brokers: string[];
  /** The mode the app creates its log with (the demo's DEMO_LOG_MODE), octal text. */
  logMode?: string;
  enforcement?: "Enforce" | "Audit";
}

export const topicOf = (o: Pick<DemoOptions, "namespace" | "name">) =>
  `audit.${o.namespace}.${o.name}`;

export function demoPolicy(o: DemoOptions) {
  return {
    apiVersion: "auditready.dev/v1alpha1",
    kind: "AuditPolicy",
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      selector: { matchLabels: { app: o.name } },
      containers: ["app"],
      source: { paths: [`${DEMO_LOG_DIR}/access*.log`], format: "combined" },
      required: ["action", "resource", "time"],
      // The kubelet's readiness probes: counted by the sidecar, not published.
      exclude: [{ field: "resource", pattern: "^/healthz$" }],
      sink: { kafka: { brokers: o.brokers, topic: topicOf(o) } },
      retention: { days: 1, replicas: 1, minInSync: 1 },
      signing: { mode: "seal", sealEvery: { entries: 100, millis: 500 }, heartbeatSeconds: 10 },
      enforcement: o.enforcement ?? "Enforce",
      sidecar: { image: o.sidecarImage, imagePullPolicy: "Never" },
    },
  };
}

export function demoDeployment(o: DemoOptions) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: { app: o.name } },
      template: {
        metadata: { labels: { app: o.name } },
        spec: {
          // Longer than the sidecar's drain: a deleted pod's last lines still get out.
          terminationGracePeriodSeconds: 30,
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 },
          containers: [
            {
              name: "app",
              image: o.image,
              imagePullPolicy: "Never",
              env: [
                { name: "PORT", value: String(DEMO_PORT) },
                { name: "DEMO_ACCESS_LOG", value: `${DEMO_LOG_DIR}/access.log` },
                ...(o.logMode ? [{ name: "DEMO_LOG_MODE", value: o.logMode }] : []),
              ],
              ports: [{ name: "http", containerPort: DEMO_PORT }],
              readinessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 2 },
              securityContext: {
                allowPrivilegeEscalation: false,
                // Writable: a pod that predates the policy (or opts out) has no log volume and
                // writes its log into the image's own /var/log/app (owned by uid 1000).
                readOnlyRootFilesystem: false,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
              },
              resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
            },
          ],
        },
      },
    },
  };
}
