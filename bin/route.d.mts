// Types of route.mjs for the TypeScript that imports it (its unit test).
export declare const PROCESS_COMMANDS: { operator: URL; sidecar: URL };
export declare const CLI: URL;
export declare const OPERATOR_HELP: string;
export declare function route(
  args: readonly string[],
): { module: URL; argv: string[] } | { help: string };
