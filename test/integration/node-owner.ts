// Run by infra-node-cleanup.test.ts as its own process: starts the whole test cluster (guards,
// bridge, Kafka, control plane, node), runs one pod of the pause image, prints
// `READY <state dir>` and waits to be stopped: by SIGTERM (the graceful teardown) or by SIGKILL
// (then the janitor must take the host back).
import { startCluster } from "../infra/cluster.ts";
import { ensureToolchain } from "../infra/toolchain.ts";

const tools = await ensureToolchain();
const cluster = await startCluster({ tools, images: [] });
const pod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "sleeper", namespace: "default" },
  spec: {
    containers: [{ name: "pause", image: tools.pause.name, imagePullPolicy: "Never" }],
    terminationGracePeriodSeconds: 1,
  },
};
await cluster.kubectl(["apply", "-f", "-"], JSON.stringify(pod));
await cluster.kubectl(["wait", "--for=condition=Ready", "pod/sleeper", "--timeout=120s"]);
process.stdout.write(`READY ${cluster.stateDir}\n`);
process.once("SIGTERM", () => {
  void cluster.stop().then(() => process.exit(0));
});
setInterval(() => undefined, 1_000);
