// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews
// every renewMs; another candidate takes the lease only after leaseMs without renewal; writes
// carry the resourceVersion read, so two candidates can never both win. A leader that cannot
// renew within leaseMs steps down before anyone else may take over. Leases are read and written
// as plain objects (MicroTime needs microsecond precision the typed client does not produce).
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { conflict, notFound } from "./controller/objects.ts";

export interface LeaderOptions {
  kc: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  leaseMs?: number;
  renewMs?: number;
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

const micro = (ms: number) => new Date(ms).toISOString().replace("Z", "000Z");

export class LeaderElector {
  private readonly api: CustomObjectsApi;
  private readonly opts: LeaderOptions;
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private leading = false;
  private lastRenewed = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(opts: LeaderOptions) {
    this.opts = opts;
    this.api = opts.kc.makeApiClient(CustomObjectsApi);
    this.leaseMs = opts.leaseMs ?? 15_000;
    this.renewMs = opts.renewMs ?? 2_000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.tick();
  }

  /**
   * Stops competing; a leader releases the lease so a standby takes over at once. release=false
   * leaves it to expire, as a crashed process would.
   */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.setLeading(false);
    if (!release) return;
    try {
      const lease = await this.read();
      if (lease?.spec.holderIdentity === this.opts.identity) {
        lease.spec.holderIdentity = "";
        lease.spec.leaseDurationSeconds = 1;
        await this.api.replaceNamespacedCustomObject({
          ...this.ref(),
          name: this.opts.name,
          body: lease,
        });
      }
    } catch (err) {
      this.opts.log.warn(
        { err: String(err) },
        "could not release the lease; it expires on its own",
      );
    }
  }

  private ref() {
    return {
      group: "coordination.k8s.io",
      version: "v1",
      namespace: this.opts.namespace,
      plural: "leases",
    };
  }

  private async read(): Promise<Lease | undefined> {
    try {
      return (await this.api.getNamespacedCustomObject({
        ...this.ref(),
        name: this.opts.name,
      })) as Lease;
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.tryAcquireOrRenew();
    } catch (err) {
      if (!conflict(err)) this.opts.log.warn({ err: String(err) }, "lease request failed");
    }
    // Step down well before others may take over (client-go's renewDeadline < leaseDuration).
    if (this.leading && Date.now() - this.lastRenewed > (this.leaseMs * 2) / 3) {
      this.opts.log.warn("could not renew the lease in time: stepping down");
      this.setLeading(false);
    }
    if (!this.stopped) {
      this.timer = setTimeout(() => void this.tick(), this.renewMs);
      this.timer.unref();
    }
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const now = Date.now();
    const me = this.opts.identity;
    const durationS = Math.ceil(this.leaseMs / 1000);
    const lease = await this.read();
    if (!lease) {
      await this.api.createNamespacedCustomObject({
        ...this.ref(),
        body: {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: {
            holderIdentity: me,
            leaseDurationSeconds: durationS,
            acquireTime: micro(now),
            renewTime: micro(now),
            leaseTransitions: 0,
          },
        },
      });
      this.renewed(now);
      return;
    }
    const s = lease.spec;
    const held = s.holderIdentity === me;
    const renewedAt = s.renewTime ? Date.parse(s.renewTime) : 0;
    const expired =
      !s.holderIdentity || renewedAt + (s.leaseDurationSeconds ?? durationS) * 1000 < now;
    if (!held && !expired) {
      if (this.leading) this.setLeading(false);
      return;
    }
    lease.spec = {
      holderIdentity: me,
      leaseDurationSeconds: durationS,
      acquireTime: held && s.acquireTime ? s.acquireTime : micro(now),
      renewTime: micro(now),
      leaseTransitions: (s.leaseTransitions ?? 0) + (held ? 0 : 1),
    };
    await this.api.replaceNamespacedCustomObject({
      ...this.ref(),
      name: this.opts.name,
      body: lease,
    });
    this.renewed(now);
  }

  private renewed(at: number) {
    this.lastRenewed = at;
    if (!this.leading) this.setLeading(true);
  }

  private setLeading(value: boolean) {
    this.leading = value;
    this.opts.log.info(
      { identity: this.opts.identity, leading: value },
      value ? "became leader" : "stopped leading",
    );
    if (value) this.opts.onStartedLeading();
    else this.opts.onStoppedLeading();
  }
}
