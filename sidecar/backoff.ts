// The one backoff policy of the sidecar: exponential with "equal jitter" (half fixed, half random), capped. Every retry
// loop (sink reconnects, spool replay, config reload) takes its delays from here so retries
// from many pods never synchronise against one broker.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Multiplier per attempt; 2 doubles the ceiling each time. */
  factor?: number;
  /** [0, 1) source; injectable so tests are deterministic. */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly opts: Required<BackoffOptions>;

  constructor(opts: BackoffOptions) {
    this.opts = { factor: 2, random: Math.random, ...opts };
  }

  /** The delay before the next attempt: uniform in [ceiling/2, ceiling] ("equal jitter"). */
  next(): number {
    const { initialMs, maxMs, factor, random } = this.opts;
    const ceiling = Math.min(maxMs, initialMs * factor ** this.attempt);
    this.attempt++;
    return Math.round(ceiling / 2 + random() * (ceiling / 2));
  }

  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** A timer that a signal can cut short; resolves either way. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
