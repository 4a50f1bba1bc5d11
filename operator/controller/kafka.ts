// One kafkajs admin client per broker list and credentials, shared by the policies that use
// them, with short retries: the reconcile reports TopicReady=False and requeues with backoff
// instead of blocking a worker while a broker is away. Credentials come from the policy's own
// tlsSecret / saslSecret (kafkacreds.ts), the same Secrets its sidecars mount.
import { createHash } from "node:crypto";
import { type Admin, Kafka, logLevel, type SASLOptions } from "kafkajs";

export interface KafkaSecurity {
  /** PEM CA bundle: connect with TLS and verify the brokers with it. */
  caPem?: string;
  sasl?: {
    mechanism: "plain" | "scram-sha-256" | "scram-sha-512";
    username: string;
    password: string;
  };
}

export class KafkaAdmins {
  private readonly admins = new Map<string, Promise<Admin>>();
  private readonly clientId: string;

  constructor(clientId = "auditready-operator") {
    this.clientId = clientId;
  }

  get(brokers: readonly string[], security: KafkaSecurity = {}): Promise<Admin> {
    // Keyed by a hash, so no credential is kept in a map key or shows up in a heap dump's strings.
    const key = createHash("sha256")
      .update(JSON.stringify([[...brokers].sort(), security]))
      .digest("hex");
    let admin = this.admins.get(key);
    if (!admin) {
      const kafka = new Kafka({
        clientId: this.clientId,
        brokers: [...brokers],
        connectionTimeout: 3_000,
        requestTimeout: 10_000,
        retry: { retries: 2, initialRetryTime: 200 },
        logLevel: logLevel.NOTHING,
        ...(security.caPem !== undefined && { ssl: { ca: [security.caPem] } }),
        ...(security.sasl && { sasl: security.sasl as SASLOptions }),
      });
      const a = kafka.admin();
      admin = a.connect().then(() => a);
      // A failed connect is not cached: the next reconcile tries again.
      admin.catch(() => this.admins.delete(key));
      this.admins.set(key, admin);
    }
    return admin;
  }

  async close(): Promise<void> {
    const all = [...this.admins.values()];
    this.admins.clear();
    await Promise.allSettled(all.map(async (a) => (await a).disconnect()));
  }
}
