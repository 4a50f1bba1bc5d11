#!/usr/bin/env node
// `auditready`: the command-line entry. Subcommands stay in their own modules; this file only
// dispatches and turns errors into exit codes (2 for bad usage, never a stack trace for that).
import { routeProcessWarnings } from "../sidecar/sink/process-warnings.ts";
import { runKeys } from "./keys.ts";
import { StatusWriteError } from "./status.ts";
import { UsageError } from "./trust.ts";
import { runVerify, VERIFY_HELP } from "./verify.ts";

// Output users read or parse: kafkajs' negative-timeout noise dropped, other warnings printed.
routeProcessWarnings((w) => process.stderr.write(`${w.name}: ${w.message}\n`));

const HELP = `Usage: auditready <command> [options]

Commands:
  operator  run the operator: AuditPolicy controller and pod-injection webhook
            (configured by environment variables; auditready operator --help)
  sidecar   run the signing sidecar next to an app (auditready sidecar --help)
  verify    prove from a Kafka topic or a ledger file that no audit record was altered,
            dropped, reordered, replayed or forged (auditready verify --help)
  keys      make a policy signing key and print its public half (auditready keys --help)

Run "auditready <command> --help" for a command's options. "operator" and "sidecar" are
started by bin/auditready.mjs (the image's entrypoint), which hands every other command here.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "verify":
      return runVerify(rest);
    case "keys":
      return runKeys(rest);
    case undefined:
    case "-h":
    case "--help":
    case "help":
      process.stdout.write(rest[0] === "verify" ? VERIFY_HELP : HELP);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command ${command}\n\n${HELP}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const usage =
      err instanceof UsageError ||
      err instanceof StatusWriteError ||
      (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    process.stderr.write(`auditready: ${(err as Error).message}\n`);
    if (!usage) process.stderr.write(`${(err as Error).stack ?? ""}\n`);
    process.exitCode = 2;
  },
);
