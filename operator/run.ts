// Assembles one operator replica from its parts; main.ts only reads configuration and calls
// this. Every replica serves the webhook from its own policy cache. Only the elected leader
// watches pods, runs the reconcile workers, renews the serving certificate and keeps the
// MutatingWebhookConfiguration current.
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  AuthenticationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1MutatingWebhook,
  VersionApi,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import { GROUP, PLURAL, VERSION } from "./api/policy.ts";
import { CertifyService } from "./certify/service.ts";
import type { CertifyEndpoint } from "./config.ts";
import { Informer, type ListPage } from "./controller/informer.ts";
import { KafkaAdmins } from "./controller/kafka.ts";
import { PolicyKeys } from "./controller/keysecret.ts";
import { PolicyIndex } from "./controller/policyindex.ts";
import { WorkQueue } from "./controller/queue.ts";
import { PolicyReconciler, type RawPolicy } from "./controller/reconciler.ts";
import { LeaderElector } from "./leader.ts";
import { CERTIFY_PATH } from "./names.ts";
import { type PodView, toPodView } from "./podview.ts";
import { selectorMatches } from "./select.ts";
import { supportsNativeSidecars } from "./serverversion.ts";
import { ensureServingCert } from "./webhook/certs.ts";
import { desiredWebhooks, type WebhookEndpoint } from "./webhook/configuration.ts";
import { WebhookRegistrar } from "./webhook/register.ts";
import { startWebhookServer } from "./webhook/server.ts";

export interface OperatorOptions {
  kc: KubeConfig;
  /** The operator's own namespace: never injected; holds the Lease and the cert Secret. */
  namespace: string;
  cluster: string;
  identity: string;
  log: Logger;
  webhook: {
    host: string;
    port: number;
    endpoint: WebhookEndpoint;
    configurationName: string;
    certSecretName: string;
    dnsNames: string[];
    ipAddresses: string[];
  };
  leaseName: string;
  leaseMs?: number;
  renewMs?: number;
  workers?: number;
  silentWatchMs?: number;
  /**
   * Only AuditPolicies with these labels (a label selector string). Lets several operator
   * installations share a cluster without claiming each other's policies.
   */
  policySelector?: string;
  /** How long a certified epoch key stays valid; the sidecar renews at two thirds. Default 1 h. */
  certValidityMs?: number;
}

export interface Operator {
  readonly webhookPort: number;
  readonly isLeader: boolean;
  readonly registry: Registry;
  readonly podInformer: () => Informer<PodView> | undefined;
  /** releaseLease=false stops like a crash would, leaving the Lease to expire. */
  stop(opts?: { releaseLease?: boolean }): Promise<void>;
}

const key = (ns: string, name: string) => `${ns}/${name}`;

export async function startOperator(o: OperatorOptions): Promise<Operator> {
  const core = o.kc.makeApiClient(CoreV1Api);
  const objects = o.kc.makeApiClient(CustomObjectsApi);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const latency = new Histogram({
    name: "auditready_webhook_admission_seconds",
    help: "Time to answer one AdmissionReview.",
    labelNames: ["decision"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [registry],
  });
  const reconcileSeconds = new Histogram({
    name: "auditready_reconcile_seconds",
    help: "Time of one reconcile of one AuditPolicy (or of the webhook configuration).",
    labelNames: ["result"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const excluded = new Set(["kube-system", o.namespace]);
  const certOpts = {
    namespace: o.namespace,
    secretName: o.webhook.certSecretName,
    dnsNames: o.webhook.dnsNames,
    ipAddresses: o.webhook.ipAddresses,
  };
  let serving = (await ensureServingCert(core, certOpts, false)).cert;
  const nativeSidecars = supportsNativeSidecars(await o.kc.makeApiClient(VersionApi).getCode());
  if (!nativeSidecars)
    o.log.warn("the API server predates native sidecars: injecting regular containers");

  // Policies: every replica, for the webhook. Parsed once per change, kept by namespace.
  const index = new PolicyIndex();
  let queue: WorkQueue | undefined;
  let pods: Informer<PodView> | undefined;
  // A namespace gained its first policy or lost its last: relist pods (debounced, so creating
  // 100 policies relists once or twice, not 100 times).
  let resyncTimer: NodeJS.Timeout | undefined;
  const scheduleResync = () => {
    if (resyncTimer) return;
    resyncTimer = setTimeout(() => {
      resyncTimer = undefined;
      pods?.resync();
    }, 200);
    resyncTimer.unref();
  };
  const policies = new Informer<RawPolicy>({
    name: "auditpolicies",
    kc: o.kc,
    path: `/apis/${GROUP}/${VERSION}/${PLURAL}`,
    list: async (opts) =>
      page(
        await objects.listClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          ...listParams(opts),
          ...(o.policySelector && { labelSelector: o.policySelector }),
        }),
      ),
    ...(o.policySelector && { watchParams: { labelSelector: o.policySelector } }),
    transform: (raw) => raw as RawPolicy,
    key: (p) => key(p.metadata.namespace, p.metadata.name),
    onChange: (k, obj, old) => {
      // Status-only updates (our own writes) change nothing the webhook or a reconcile reads.
      const namespacesBefore = index.namespacesKey();
      if (!index.apply(k, obj, old)) return;
      if (index.namespacesKey() !== namespacesBefore) scheduleResync();
      queue?.add(k);
      // Another policy's change can change this one's conflicts and the webhook set.
      const ns = (obj ?? old)?.metadata.namespace ?? "";
      for (const p of index.inNamespace(ns)) queue?.add(key(p.namespace, p.name));
    },
    log: o.log,
    ...(o.silentWatchMs !== undefined && { silentMs: o.silentWatchMs }),
  });
  policies.start();
  await policies.synced;

  const certifyRequests = new Counter({
    name: "auditready_certify_requests_total",
    help: "Epoch key certification requests, by result (certified, or the HTTP status refused with).",
    labelNames: ["result"] as const,
    registers: [registry],
  });
  const certify = new CertifyService({
    auth: o.kc.makeApiClient(AuthenticationV1Api),
    core,
    cluster: o.cluster,
    policiesIn: (ns) => index.inNamespace(ns),
    policyKey: (() => {
      const keys = new PolicyKeys(core, o.namespace);
      return (p) => keys.current(p);
    })(),
    validityMs: o.certValidityMs ?? 3_600_000,
    injection: { cluster: o.cluster, nativeSidecars },
    log: o.log,
    requests: certifyRequests,
  });
  // Where sidecars reach /certify. Behind a Service, its cluster IP (pods need no DNS for it)
  // with the Service's DNS name checked on the certificate.
  let certifyAt: Omit<CertifyEndpoint, "caPem"> | undefined;
  const findCertifyEndpoint = async () => {
    const e = o.webhook.endpoint;
    if (e.url) {
      const u = new URL(e.url);
      u.pathname = CERTIFY_PATH;
      certifyAt = { url: u.toString() };
    } else if (e.service) {
      const svc = await core
        .readNamespacedService({ namespace: e.service.namespace, name: e.service.name })
        .catch((err: unknown) => {
          o.log.warn(
            { err: String(err) },
            "cannot read the operator's Service for the certify address",
          );
          return undefined;
        });
      const ip = svc?.spec?.clusterIP;
      if (ip && ip !== "None") {
        const host = ip.includes(":") ? `[${ip}]` : ip;
        certifyAt = {
          url: `https://${host}:${e.service.port}${CERTIFY_PATH}`,
          serverName: `${e.service.name}.${e.service.namespace}.svc`,
        };
      }
    }
  };
  await findCertifyEndpoint();

  const server = await startWebhookServer({
    certify,
    host: o.webhook.host,
    port: o.webhook.port,
    certPem: serving.certPem,
    keyPem: serving.keyPem,
    policiesIn: (ns) => index.inNamespace(ns),
    ctx: { cluster: o.cluster, excludedNamespaces: excluded, nativeSidecars },
    log: o.log,
    latency,
    metrics: registry,
  });

  // The leader renews the serving pair when due (on taking the lease, then every minute);
  // followers pick up a renewed pair from the Secret. Either way the server switches in place
  // and the webhook configuration's caBundle is brought up to date.
  const checkCert = () => {
    void ensureServingCert(core, certOpts, elector.isLeader)
      .then(({ cert }) => {
        if (cert.certPem !== serving.certPem) {
          serving = cert;
          server.setCertificate(cert.certPem, cert.keyPem);
          queue?.add(WEBHOOK_KEY);
          o.log.info("webhook serving certificate replaced");
        }
      })
      .catch((err: unknown) =>
        o.log.warn({ err: String(err) }, "serving certificate check failed"),
      );
  };
  const certReload = setInterval(checkCert, 60_000);
  certReload.unref();

  const registrar = new WebhookRegistrar(
    o.kc.makeApiClient(AdmissionregistrationV1Api),
    o.webhook.configurationName,
  );
  // The desired entries change only with the policy set or the CA: computed once per change.
  let desired: { version: number; ca: string; webhooks: V1MutatingWebhook[] } | undefined;
  const registerWebhooks = () => {
    if (desired?.version !== index.version || desired.ca !== serving.caBundlePem) {
      desired = {
        version: index.version,
        ca: serving.caBundlePem,
        webhooks: desiredWebhooks(index.all(), {
          endpoint: o.webhook.endpoint,
          caBundlePem: serving.caBundlePem,
          excludedNamespaces: [...excluded],
        }),
      };
    }
    return registrar.ensure(desired.webhooks);
  };
  const admins = new KafkaAdmins();
  let workers: Promise<void>[] = [];

  const startLeading = () => {
    const q = new WorkQueue();
    queue = q;
    checkCert();
    const podsByNs = new Map<string, Map<string, PodView>>();
    const informer = new Informer<PodView>({
      name: "pods",
      kc: o.kc,
      path: "/api/v1/pods",
      list: async (opts) => page(await core.listPodForAllNamespaces(listParams(opts))),
      // Only pods of namespaces with a policy are kept (STYLE: cache what a policy selects).
      transform: (raw) => {
        const pod = toPodView(raw);
        return pod && index.hasNamespace(pod.namespace) ? pod : undefined;
      },
      key: (p) => key(p.namespace, p.name),
      onChange: (_k, obj, old) => {
        const pod = obj ?? old;
        if (!pod) return;
        const m = podsByNs.get(pod.namespace) ?? new Map<string, PodView>();
        podsByNs.set(pod.namespace, m);
        if (obj) m.set(pod.name, obj);
        else m.delete(pod.name);
        // Only the policies that select the pod now or selected it before: with many policies
        // per namespace, waking all of them on every pod event is what makes status slow.
        for (const p of index.inNamespace(pod.namespace)) {
          if (
            (obj && selectorMatches(p.spec.selector, obj.labels)) ||
            (old && selectorMatches(p.spec.selector, old.labels))
          ) {
            // Coalesced: a burst of pod events (a rollout, 50 pods scaling up) becomes one
            // reconcile and one status write per policy per POD_BATCH_MS, not one per pod.
            q.addAfter(key(p.namespace, p.name), POD_BATCH_MS);
          }
        }
      },
      log: o.log,
      ...(o.silentWatchMs !== undefined && { silentMs: o.silentWatchMs }),
    });
    pods = informer;
    informer.start();
    const reconciler = new PolicyReconciler({
      core,
      apps: o.kc.makeApiClient(AppsV1Api),
      objects,
      admins,
      policy: (k) => policies.cache.get(k),
      validPolicies: (ns) => index.inNamespace(ns),
      podsIn: (ns) => [...(podsByNs.get(ns)?.values() ?? [])],
      injection: { cluster: o.cluster, nativeSidecars },
      registerWebhooks,
      identity: o.identity,
      keyNamespace: o.namespace,
      certify: () => {
        if (!certifyAt) void findCertifyEndpoint();
        return certifyAt && { ...certifyAt, caPem: serving.caBundlePem };
      },
      log: o.log,
    });
    workers = Array.from({ length: o.workers ?? 8 }, async () => {
      await informer.synced;
      for (;;) {
        const k = await q.get();
        if (k === undefined) return;
        const end = reconcileSeconds.startTimer();
        let result = "ok";
        try {
          const retry =
            k === WEBHOOK_KEY ? !(await registerWebhooks()).ok : await reconciler.reconcile(k);
          if (retry) q.addRateLimited(k);
          else q.forget(k);
          if (retry) result = "requeued";
        } catch (err) {
          result = "error";
          const delay = q.addRateLimited(k);
          o.log.warn({ key: k, err: String(err), delay }, "reconcile failed; retrying");
        } finally {
          q.done(k);
          end({ result });
        }
      }
    });
    q.add(WEBHOOK_KEY);
    for (const k of policies.cache.keys()) q.add(k);
  };
  const stopLeading = () => {
    queue?.shutdown();
    queue = undefined;
    pods?.stop();
    pods = undefined;
  };

  const elector = new LeaderElector({
    kc: o.kc,
    namespace: o.namespace,
    name: o.leaseName,
    identity: o.identity,
    log: o.log,
    ...(o.leaseMs !== undefined && { leaseMs: o.leaseMs }),
    ...(o.renewMs !== undefined && { renewMs: o.renewMs }),
    onStartedLeading: startLeading,
    onStoppedLeading: stopLeading,
  });
  elector.start();

  return {
    webhookPort: server.port,
    get isLeader() {
      return elector.isLeader;
    },
    registry,
    podInformer: () => pods,
    async stop(opts = {}) {
      clearInterval(certReload);
      await elector.stop(opts.releaseLease ?? true);
      stopLeading();
      await Promise.allSettled(workers);
      policies.stop();
      await server.close();
      await admins.close();
    },
  };
}

const WEBHOOK_KEY = "\u0000webhook";
const POD_BATCH_MS = 100;

/** The typed client names the continue token `_continue`; a plain `continue` is ignored. */
function listParams(opts: { limit: number; continue?: string }): {
  limit: number;
  _continue?: string;
} {
  return { limit: opts.limit, ...(opts.continue !== undefined && { _continue: opts.continue }) };
}

function page(list: {
  items: unknown[];
  metadata?: { resourceVersion?: string; _continue?: string; continue?: string };
}): ListPage {
  const cont = list.metadata?._continue ?? list.metadata?.continue;
  return {
    items: list.items,
    resourceVersion: list.metadata?.resourceVersion ?? "",
    ...(cont && { continue: cont }),
  };
}
