// One polling loop for the scripts that drive a cluster (the e2e tests, `npm run local`, the
// cluster's own start): probe until it gives a value, or fail saying what was awaited, what the
// probe last said and, when given, more context (a component's log, a pod's description).

export async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 120_000,
  everyMs = 500,
  context: () => string = () => "",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = "no answer yet";
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? err.message : err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  let extra = "";
  try {
    extra = context();
  } catch (err) {
    extra = `(context unavailable: ${(err as Error).message})`;
  }
  throw new Error(
    `${what}: not within ${timeoutMs} ms (last: ${String(last)})${extra ? `\n${extra}` : ""}`,
  );
}
