// vitest global setup of the integration project: builds or finds the cached components,
// starts Apache Kafka and kube-apiserver + etcd in parallel, hands their addresses to the tests
// through env, and stops them at the end. A component that cannot start fails the whole run
// with its log; nothing is skipped.
import { ENV } from "./endpoints.ts";
import "./quiet-warnings.ts"; // the broker's readiness check uses kafkajs in this process too
import { type KafkaBroker, startKafka } from "./kafka.ts";
import { type KubeControlPlane, startKube } from "./kube.ts";
import { ensureToolchain } from "./toolchain.ts";

export default async function setup(): Promise<() => Promise<void>> {
  const t0 = Date.now();
  const tools = await ensureToolchain();
  const t1 = Date.now();
  const [kafka, kube] = await Promise.allSettled([
    timed("kafka", () => startKafka({ libs: tools.kafkaLibs, saslSsl: true })),
    timed("kube-apiserver", () =>
      startKube({ etcd: tools.etcd, kubeApiserver: tools.kubeApiserver }),
    ),
  ]);
  const stop = async () => {
    await Promise.allSettled([
      kafka.status === "fulfilled" ? kafka.value.stop() : undefined,
      kube.status === "fulfilled" ? kube.value.stop() : undefined,
    ]);
  };
  if (kafka.status === "rejected" || kube.status === "rejected") {
    await stop();
    const reasons = [kafka, kube].flatMap((r) =>
      r.status === "rejected" ? [String(r.reason)] : [],
    );
    throw new Error(`integration setup: a real component did not start\n${reasons.join("\n\n")}`);
  }
  exportEndpoints(kafka.value, kube.value, tools);
  console.log(
    `[infra] toolchain ${t1 - t0} ms; kafka ${kafka.value.bootstrap} (SASL_SSL ${kafka.value.saslSsl?.bootstrap}); kube-apiserver ${kube.value.server}; ready ${Date.now() - t0} ms`,
  );
  return stop;
}

async function timed<T>(name: string, start: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const value = await start();
  console.log(`[infra] ${name} ready in ${Date.now() - t0} ms`);
  return value;
}

function exportEndpoints(
  kafka: KafkaBroker,
  kube: KubeControlPlane,
  tools: { kubectl: string; helm: string; kafkaLibs: string },
): void {
  const sasl = kafka.saslSsl;
  if (!sasl)
    throw new Error("integration setup: the broker was started without its SASL_SSL listener");
  Object.assign(process.env, {
    [ENV.kafkaBootstrap]: kafka.bootstrap,
    [ENV.kafkaSaslSslBootstrap]: sasl.bootstrap,
    [ENV.kafkaSaslUsername]: sasl.username,
    [ENV.kafkaSaslPassword]: sasl.password,
    [ENV.kafkaCaFile]: sasl.caFile,
    [ENV.kafkaLog]: kafka.logFile,
    [ENV.kafkaPid]: String(kafka.pid),
    [ENV.kafkaLibs]: tools.kafkaLibs,
    [ENV.kafkaDataDir]: kafka.dataDir,
    [ENV.kubeServer]: kube.server,
    [ENV.kubeconfig]: kube.kubeconfigPath,
    [ENV.kubeApiserverLog]: kube.apiserverLogFile,
    [ENV.kubeSaKeyFile]: kube.files.saKeyFile,
    [ENV.kubeApiserverPid]: String(kube.pids[0]),
    [ENV.kubectl]: tools.kubectl,
    [ENV.helm]: tools.helm,
  });
}
