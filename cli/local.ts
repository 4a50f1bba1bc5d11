// `npm run local`: brings up the same real components the integration tests use (Apache Kafka
// in KRaft mode with a SASL_SSL listener, etcd + kube-apiserver), prints how to reach them, and
// keeps them up until Ctrl-C. It will grow into the one-command demo (operator + sidecar).

import { startKafka } from "../test/infra/kafka.ts";
import { startKube } from "../test/infra/kube.ts";
import { ensureToolchain } from "../test/infra/toolchain.ts";

async function main(): Promise<void> {
  console.error("auditready local: preparing components (cached under ~/.cache/auditready)");
  const tools = await ensureToolchain();
  const [kafka, kube] = await Promise.all([
    startKafka({ libs: tools.kafkaLibs, saslSsl: true }),
    startKube({ etcd: tools.etcd, kubeApiserver: tools.kubeApiserver }),
  ]);
  const sasl = kafka.saslSsl;
  console.log(`
auditready local environment is up.

  Kafka (PLAINTEXT)   ${kafka.bootstrap}
  Kafka (SASL_SSL)    ${sasl?.bootstrap}  user ${sasl?.username}, CA ${sasl?.caFile}
                      mechanisms ${sasl?.mechanisms.join(", ")}; the password is in the broker's JAAS config
  Kafka log           ${kafka.logFile}
  kube-apiserver      ${kube.server}
  kubeconfig          ${kube.kubeconfigPath}
  API server log      ${kube.apiserverLogFile}

  Try:  ${tools.kubectl} --kubeconfig ${kube.kubeconfigPath} get namespaces

Press Ctrl-C to stop everything.`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`\nauditready local: ${signal}, stopping Kafka and the API server`);
    await Promise.allSettled([kafka.stop(), kube.stop()]);
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

main().catch((err: unknown) => {
  console.error(`auditready local: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
