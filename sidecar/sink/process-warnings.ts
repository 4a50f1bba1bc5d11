// Node's process warnings for every process that loads kafkajs (the sidecar, the operator, the
// CLI, the test workers): kafkajs (no release since 2023) sets negative timeouts on Node 24,
// which Node clamps to 1 ms and reports as a TimeoutNegativeWarning on each process's stderr,
// three lines of noise outside its structured output. That one is dropped; every other warning
// goes to `report`, so each process prints it the way it prints everything else.
export function routeProcessWarnings(report: (warning: Error) => void): void {
  process.removeAllListeners("warning");
  process.on("warning", (w) => {
    if (w.name !== "TimeoutNegativeWarning") report(w);
  });
}
