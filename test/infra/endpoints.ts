// How integration tests find the real components the global setup started: through env, so
// that child processes the tests start (a sidecar, the operator, kubectl) inherit them too.
// A missing variable is an error that says why, never a reason to skip.

export const ENV = {
  kafkaBootstrap: "AUDITREADY_KAFKA_BOOTSTRAP",
  kafkaSaslSslBootstrap: "AUDITREADY_KAFKA_SASL_SSL_BOOTSTRAP",
  kafkaSaslUsername: "AUDITREADY_KAFKA_SASL_USERNAME",
  kafkaSaslPassword: "AUDITREADY_KAFKA_SASL_PASSWORD",
  kafkaCaFile: "AUDITREADY_KAFKA_CA_FILE",
  kafkaLog: "AUDITREADY_KAFKA_LOG",
  kafkaPid: "AUDITREADY_KAFKA_PID",
  kafkaLibs: "AUDITREADY_KAFKA_LIBS",
  kafkaDataDir: "AUDITREADY_KAFKA_DATA_DIR",
  kubeServer: "AUDITREADY_KUBE_SERVER",
  kubeconfig: "AUDITREADY_KUBECONFIG",
  kubeApiserverLog: "AUDITREADY_KUBE_APISERVER_LOG",
  kubeApiserverPid: "AUDITREADY_KUBE_APISERVER_PID",
  kubectl: "AUDITREADY_KUBECTL",
  /** The API server's ServiceAccount token signing key (PEM): tests make tokens it would make. */
  kubeSaKeyFile: "AUDITREADY_KUBE_SA_KEY_FILE",
  helm: "AUDITREADY_HELM",
  // The e2e project's cluster (test/infra/e2e-setup.ts).
  kafkaPodBootstrap: "AUDITREADY_KAFKA_POD_BOOTSTRAP",
  nodeStateDir: "AUDITREADY_NODE_STATE_DIR",
  guardsInstalledNs: "AUDITREADY_GUARDS_INSTALLED_NS",
  nodeContainerd: "AUDITREADY_NODE_CONTAINERD",
  image: "AUDITREADY_IMAGE",
  demoImage: "AUDITREADY_DEMO_IMAGE",
  /** e2e-setup's control endpoint: POST /kafka/restart?downMs=N. */
  e2eControl: "AUDITREADY_E2E_CONTROL",
} as const;

export type EndpointName = keyof typeof ENV;

export function endpoint(name: EndpointName): string {
  const variable = ENV[name];
  const value = process.env[variable];
  if (!value) {
    throw new Error(
      `${variable} is not set: integration and e2e tests run under test/infra/global-setup.ts or e2e-setup.ts, which start the real components (run them with npm run test:integration or npm run test:e2e)`,
    );
  }
  return value;
}
