// Keeps the operator's MutatingWebhookConfiguration equal to desiredWebhooks(policies): entries
// and caBundle. The object itself is created by the installer (the Helm chart, or a test) so the
// operator's RBAC can be limited to get/update of that one name. Calls are serialized, and an
// unchanged desired state costs no API call except a periodic re-read that repairs drift.
import type { AdmissionregistrationV1Api, V1MutatingWebhook } from "@kubernetes/client-node";
import { notFound } from "../controller/objects.ts";

export interface RegistrationError {
  kind: "RegistrationError";
  reason: "ConfigurationMissing" | "ReadFailed" | "UpdateFailed";
  message: string;
}

export type Registration =
  | { ok: true; names: Set<string> }
  | { ok: false; error: RegistrationError };

export class WebhookRegistrar {
  private readonly api: AdmissionregistrationV1Api;
  private readonly name: string;
  private readonly reverifyMs: number;
  private lastApplied = "";
  private lastArray: V1MutatingWebhook[] | undefined;
  private lastVerifiedAt = 0;
  private last: Registration | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(api: AdmissionregistrationV1Api, name: string, reverifyMs = 60_000) {
    this.api = api;
    this.name = name;
    this.reverifyMs = reverifyMs;
  }

  ensure(webhooks: V1MutatingWebhook[]): Promise<Registration> {
    // Fast path, no queueing behind other callers: the same array as last applied, recently
    // verified. (Callers pass the same array object while the desired set is unchanged.)
    if (
      this.last?.ok &&
      webhooks === this.lastArray &&
      Date.now() - this.lastVerifiedAt < this.reverifyMs
    ) {
      return Promise.resolve(this.last);
    }
    const next = this.chain.then(() => this.apply(webhooks));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async apply(webhooks: V1MutatingWebhook[]): Promise<Registration> {
    const desired = JSON.stringify(webhooks);
    if (
      this.last?.ok &&
      desired === this.lastApplied &&
      Date.now() - this.lastVerifiedAt < this.reverifyMs
    ) {
      return this.last;
    }
    let current: Awaited<
      ReturnType<AdmissionregistrationV1Api["readMutatingWebhookConfiguration"]>
    >;
    try {
      current = await this.api.readMutatingWebhookConfiguration({ name: this.name });
    } catch (err) {
      // Reported on every policy's WebhookReady condition rather than thrown: a missing object
      // or missing permission is something an admin must see, not a silent retry loop.
      this.last = {
        ok: false,
        error: {
          kind: "RegistrationError",
          reason: notFound(err) ? "ConfigurationMissing" : "ReadFailed",
          message: notFound(err)
            ? `MutatingWebhookConfiguration ${this.name} does not exist; the installer creates it`
            : `reading MutatingWebhookConfiguration ${this.name}: ${String(err)}`,
        },
      };
      return this.last;
    }
    const names = new Set(webhooks.map((w) => w.name));
    if (JSON.stringify(normalize(current.webhooks ?? [])) !== JSON.stringify(normalize(webhooks))) {
      try {
        await this.api.replaceMutatingWebhookConfiguration({
          name: this.name,
          body: { ...current, webhooks },
        });
      } catch (err) {
        this.last = {
          ok: false,
          error: {
            kind: "RegistrationError",
            reason: "UpdateFailed",
            message: `updating MutatingWebhookConfiguration ${this.name}: ${String(err)}`,
          },
        };
        return this.last;
      }
    }
    this.lastApplied = desired;
    this.lastArray = webhooks;
    this.lastVerifiedAt = Date.now();
    this.last = { ok: true, names };
    return this.last;
  }
}

/** The fields we set, in a fixed order, so server-side defaults do not look like drift. */
function normalize(webhooks: V1MutatingWebhook[]) {
  return webhooks.map((w) => ({
    name: w.name,
    failurePolicy: w.failurePolicy,
    reinvocationPolicy: w.reinvocationPolicy,
    timeoutSeconds: w.timeoutSeconds,
    namespaceSelector: w.namespaceSelector,
    objectSelector: w.objectSelector,
    url: w.clientConfig.url,
    service: w.clientConfig.service && { ...w.clientConfig.service },
    caBundle: w.clientConfig.caBundle,
  }));
}
