// Which module `auditready <command>` runs, and the argv that module gets as if Node had started
// it directly: the operator and the sidecar as their own processes (argv: what follows the
// command), everything else through the CLI (argv: the command and what follows). Plain
// JavaScript importing nothing, so the dispatch does not load Node's type stripper.

/** Commands that start a long-running process instead of a CLI command. */
export const PROCESS_COMMANDS = {
  operator: new URL("../operator/main.ts", import.meta.url),
  sidecar: new URL("../sidecar/main.ts", import.meta.url),
};

export const CLI = new URL("../cli/auditready.ts", import.meta.url);

export const OPERATOR_HELP = `Usage: auditready operator

Runs the operator: the AuditPolicy controller, the pod-injection webhook, signing keys, topics
and status. It takes no options; it is configured by environment variables (AUDITREADY_CLUSTER
and AUDITREADY_NAMESPACE required; see operator/settings.ts), which the Helm chart sets, and
reaches the Kubernetes API with the pod's service account (or KUBECONFIG).
`;

/**
 * @param {readonly string[]} args what follows `auditready` on the command line
 * @returns {{ module: URL, argv: string[] } | { help: string }}
 */
export function route(args) {
  const [command, ...rest] = args;
  if (command === "operator") {
    if (rest.includes("--help") || rest.includes("-h")) return { help: OPERATOR_HELP };
    return { module: PROCESS_COMMANDS.operator, argv: rest };
  }
  if (command === "sidecar") return { module: PROCESS_COMMANDS.sidecar, argv: rest };
  if (command === "help" && rest[0] === "operator") return { help: OPERATOR_HELP };
  if (command === "help" && rest[0] === "sidecar") {
    return { module: PROCESS_COMMANDS.sidecar, argv: ["--help"] };
  }
  return { module: CLI, argv: [...args] };
}
