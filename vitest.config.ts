// Three projects: `unit` (pure logic, no processes, seconds), `integration` (a real Apache
// Kafka broker and a real kube-apiserver + etcd, started once per run by the global setup) and
// `e2e` (the whole product on a real node: containerd, kubelet, the chart, the images).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["{entry,sidecar,operator,cli}/**/*.test.ts", "test/unit/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/infra/global-setup.ts"],
          setupFiles: ["test/infra/quiet-warnings.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Tests share one broker and one API server; isolation comes from unique
          // topic and namespace names, not from separate components per file.
          pool: "forks",
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: ["test/infra/e2e-setup.ts"],
          setupFiles: ["test/infra/quiet-warnings.ts"],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          pool: "forks",
          // One node, one chart install: the files run one after another, in name order.
          fileParallelism: false,
          sequence: { shuffle: false },
        },
      },
    ],
  },
});
