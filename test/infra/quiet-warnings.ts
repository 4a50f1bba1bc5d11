// Test processes use kafkajs directly, which sets negative timeouts on Node 24: Node clamps them
// to 1 ms and prints a TimeoutNegativeWarning per process, three lines of noise in every run's
// log. That one warning is dropped here; every other warning is printed as Node would.
process.removeAllListeners("warning");
process.on("warning", (w) => {
  if (w.name !== "TimeoutNegativeWarning") process.stderr.write(`${w.name}: ${w.message}\n`);
});
