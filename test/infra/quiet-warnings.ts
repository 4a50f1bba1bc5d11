// Test processes use kafkajs directly: its negative-timeout warning is dropped as in the
// product's processes, every other warning is printed as Node would.
import { routeProcessWarnings } from "../../sidecar/sink/process-warnings.ts";

routeProcessWarnings((w) => process.stderr.write(`${w.name}: ${w.message}\n`));
