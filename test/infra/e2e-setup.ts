// vitest global setup of the e2e project: the whole product on a real node. Builds (or finds
// cached) the components and the project's images, starts the cluster (cluster.ts: guards,
// bridge, Kafka, control plane, node) with the images imported, hands the addresses to the tests
// through env, and takes it all down at the end. A component that cannot start fails the run
// with its log; nothing is skipped.
import { createServer } from "node:http";
import { ENV } from "./endpoints.ts";
import "./quiet-warnings.ts";
import { startCluster } from "./cluster.ts";
import { ensureImages } from "./images.ts";
import { ensureToolchain } from "./toolchain.ts";

export default async function setup(): Promise<() => Promise<void>> {
  const t0 = Date.now();
  const [tools, images] = await Promise.all([ensureToolchain(), ensureImages()]);
  const t1 = Date.now();
  const cluster = await startCluster({
    tools,
    images: [images.auditready.archive, images.demo.archive],
    progress: (m) => console.log(`[e2e] ${m}`),
  });
  const podBootstrap = cluster.kafka.podBootstrap;
  if (!podBootstrap) throw new Error("e2e setup: the broker has no listener on the pod bridge");
  Object.assign(process.env, {
    [ENV.kafkaBootstrap]: cluster.kafka.bootstrap,
    [ENV.kafkaPodBootstrap]: podBootstrap,
    [ENV.kafkaLog]: cluster.kafka.logFile,
    [ENV.kafkaPid]: String(cluster.kafka.pid),
    [ENV.kafkaLibs]: tools.kafkaLibs,
    [ENV.kafkaDataDir]: cluster.kafka.dataDir,
    [ENV.kubeServer]: cluster.kube.server,
    [ENV.kubeconfig]: cluster.kube.kubeconfigPath,
    [ENV.kubeApiserverLog]: cluster.kube.apiserverLogFile,
    [ENV.kubectl]: tools.kubectl,
    [ENV.helm]: tools.helm,
    [ENV.nodeStateDir]: cluster.stateDir,
    [ENV.guardsInstalledNs]: String(cluster.host.guardsInstalledNs),
    [ENV.nodeContainerd]: cluster.node.containerdAddress,
    [ENV.image]: images.auditready.ref,
    [ENV.demoImage]: images.demo.ref,
  });
  // What a test process cannot do itself (it does not own the broker): restart it on request.
  const control = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://control");
    if (req.method !== "POST" || url.pathname !== "/kafka/restart") {
      res.writeHead(404).end();
      return;
    }
    const downMs = Number(url.searchParams.get("downMs") ?? "0");
    cluster.restartKafka(downMs).then(
      () => {
        process.env[ENV.kafkaPid] = String(cluster.kafka.pid);
        res.writeHead(200).end("restarted");
      },
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
  const address = control.address();
  if (address && typeof address === "object") {
    process.env[ENV.e2eControl] = `http://127.0.0.1:${address.port}`;
  }
  console.log(
    `[e2e] toolchain and images ${t1 - t0} ms; cluster ready in ${Date.now() - t1} ms (node ${cluster.network.nodeName}, API ${cluster.kube.server}, Kafka for pods ${podBootstrap})`,
  );
  return async () => {
    control.close();
    await cluster.stop();
  };
}
