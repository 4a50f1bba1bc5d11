// One kafkajs admin client per broker list, shared by the policies that use it, with short
// retries: the reconcile reports TopicReady=False and requeues with backoff instead of blocking
// a worker while a broker is away.
import { type Admin, Kafka, logLevel } from "kafkajs";

export class KafkaAdmins {
  private readonly admins = new Map<string, Promise<Admin>>();
  private readonly clientId: string;

  constructor(clientId = "auditready-operator") {
    this.clientId = clientId;
  }

  get(brokers: readonly string[]): Promise<Admin> {
    const key = [...brokers].sort().join(",");
    let admin = this.admins.get(key);
    if (!admin) {
      const kafka = new Kafka({
        clientId: this.clientId,
        brokers: [...brokers],
        connectionTimeout: 3_000,
        requestTimeout: 10_000,
        retry: { retries: 2, initialRetryTime: 200 },
        logLevel: logLevel.NOTHING,
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
