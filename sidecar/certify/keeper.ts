// Keeps the sidecar's epoch key certified: asks the certifier at start, publishes each
// certificate into its stream (a `key-cert` message), renews at two thirds of the validity, and
// retries with backoff while the operator is away. Until a certificate is in hand (and again
// once one expires unrenewed) the gate holds every batch: records wait, sealed, in the outbox,
// and reading pauses when it is full, so nothing unverifiable is published and, since no state
// is saved before a publish, a crash meanwhile re-reads the lines from the app's file.

import { keyCertMessage } from "../../entry/cert.ts";
import type { SigningKey } from "../../entry/keys.ts";
import type { KeyCert } from "../../entry/record.ts";
import { Backoff, sleep } from "../backoff.ts";
import { isSidecarError, messageOf, SidecarError } from "../errors.ts";
import type { Sink, SinkAck, SinkBatch } from "../sink/sink.ts";
import type { Certifier, CertifyStream } from "./certifier.ts";

export type CertObservation =
  | { type: "key-certified"; keyId: string; by: string; notAfter: string; streams: number }
  | { type: "certify-failed"; error: SidecarError; holding: boolean };

export interface CertKeeperOptions {
  key: SigningKey;
  certifier: Certifier;
  /** Hands renewed certificates to their streams' outbox (while batches flow). */
  publish(certs: KeyCert[]): void;
  observe(o: CertObservation): void;
  backoff?: Backoff;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export class CertKeeper {
  private readonly o: CertKeeperOptions;
  private readonly notBefore = new Date().toISOString();
  private readonly stopper = new AbortController();
  private notAfter = 0;
  private lastError: SidecarError | undefined;
  private open = false;
  private waiters: (() => void)[] = [];
  private expiry: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private streams: CertifyStream[] = [];
  private inner: Sink | undefined;
  /** The batch the gate let through last, so a certificate is never published beside it. */
  private flowing: Promise<unknown> = Promise.resolve();

  constructor(o: CertKeeperOptions) {
    this.o = o;
  }

  /** Starts certifying the key for these streams (their epochs are known once they opened). */
  start(streams: CertifyStream[]): void {
    this.streams = streams;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    clearTimeout(this.expiry);
    for (const wake of this.waiters.splice(0)) wake();
    await this.loop;
  }

  /** Why batches are held, for /readyz; undefined while certified. */
  holdReason(): string | undefined {
    if (this.open) return undefined;
    const why = this.lastError ? `: ${this.lastError.message}` : " yet";
    return `epoch key ${this.o.key.keyId} not certified by ${this.o.certifier.name}${why}; records are held until it is`;
  }

  /** A sink that publishes to `inner` only while the key is certified. */
  gate(inner: Sink): Sink {
    this.inner = inner;
    return {
      name: inner.name,
      publish: async (batch: SinkBatch): Promise<SinkAck> => {
        while (!this.open) {
          if (this.stopper.signal.aborted)
            throw new SidecarError("certify", "stopped before the epoch key was certified", {
              retriable: false,
            });
          await new Promise<void>((wake) => this.waiters.push(wake));
        }
        const sent = inner.publish(batch);
        this.flowing = sent.catch(() => undefined);
        return sent;
      },
      close: () => inner.close(),
    };
  }

  private async run(): Promise<void> {
    const backoff = this.o.backoff ?? new Backoff({ initialMs: 500, maxMs: 30_000 });
    const signal = this.stopper.signal;
    while (!signal.aborted) {
      let wait: number;
      try {
        const certs = await this.o.certifier.certify(this.o.key, this.notBefore, this.streams);
        if (signal.aborted) return;
        if (!this.open && this.inner) {
          // Held batches wait behind the gate: the certificate goes out, durably, before any
          // of them, so a crash right after can never leave records without their certificate.
          await this.flowing;
          await this.inner.publish(certs.map(keyCertMessage));
        } else this.o.publish(certs);
        this.validTill(Math.min(...certs.map((c) => Date.parse(c.notAfter))));
        this.lastError = undefined;
        backoff.reset();
        this.o.observe({
          type: "key-certified",
          keyId: this.o.key.keyId,
          by: this.o.certifier.name,
          notAfter: new Date(this.notAfter).toISOString(),
          streams: certs.length,
        });
        // Timers hold at most 2^31-1 ms (24.8 days): a longer wait would fire at once.
        wait = Math.min(MAX_TIMER_MS, Math.max(1_000, ((this.notAfter - Date.now()) * 2) / 3));
      } catch (err) {
        const error = isSidecarError(err)
          ? err
          : new SidecarError("certify", messageOf(err), { retriable: true });
        this.lastError = error;
        this.o.observe({ type: "certify-failed", error, holding: !this.open });
        wait = backoff.next();
      }
      await sleep(wait, signal);
    }
  }

  private validTill(notAfter: number): void {
    this.notAfter = notAfter;
    clearTimeout(this.expiry);
    const left = notAfter - Date.now();
    if (left <= 0) {
      this.close();
      return;
    }
    this.open = true;
    for (const wake of this.waiters.splice(0)) wake();
    // Unrenewed at notAfter: checkpoints signed later would not verify, so hold again.
    this.expiry = setTimeout(() => this.close(), Math.min(left, MAX_TIMER_MS));
    this.expiry.unref();
  }

  private close(): void {
    this.open = false;
  }
}
