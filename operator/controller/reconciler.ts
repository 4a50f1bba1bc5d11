// Runs one reconcile of one AuditPolicy: the I/O around the pure reconcileStatus(). Reads the
// policy and pods from the informer caches, makes sure the key Secret, the public-keys and
// sidecar-config ConfigMaps, the Kafka topic and the webhook registration match the spec, then
// writes the status if it changed and emits Events for condition changes. Returns whether to
// requeue with backoff (a step failed for a reason that may pass).
import type { AppsV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { parsePolicy } from "../api/parse.ts";
import type { AuditPolicyStatus, Policy, SigningKeyStatus, UncoveredPod } from "../api/policy.ts";
import { type CertifyEndpoint, renderSidecarConfig } from "../config.ts";
import { CERTIFY_CA_KEY, configMapName, publicKeysConfigMapName } from "../names.ts";
import type { PodView } from "../podview.ts";
import { invalidStatus, type PolicyEvent, reconcileStatus, type StepState } from "../reconcile.ts";
import { ownersToRestart } from "../rollout.ts";
import { selectorMatches } from "../select.ts";
import type { InjectionContext } from "../sidecar-spec.ts";
import { ensureTopic } from "../topic.ts";
import { webhookName } from "../webhook/configuration.ts";
import type { Registration } from "../webhook/register.ts";
import type { KafkaAdmins } from "./kafka.ts";
import { readKafkaSecurity } from "./kafkacreds.ts";
import { ensurePolicyKey } from "./keysecret.ts";
import { upsertConfigMap } from "./objects.ts";
import { restartOwners } from "./restarts.ts";
import { withSidecarReasons } from "./sidecar-reasons.ts";
import { writeStatus } from "./status.ts";

export interface RawPolicy {
  metadata: { name: string; namespace: string; uid: string; generation: number };
  spec: unknown;
  status?: AuditPolicyStatus;
}

export interface ReconcilerDeps {
  core: CoreV1Api;
  /** For spec.rollout; absent when the operator runs without its rollout RBAC. */
  apps?: AppsV1Api;
  objects: CustomObjectsApi;
  admins: KafkaAdmins;
  policy: (key: string) => RawPolicy | undefined;
  validPolicies: (namespace: string) => readonly Policy[];
  podsIn: (namespace: string) => PodView[];
  /** What the webhook injects with: coverage counts only pods that carry exactly that. */
  injection: InjectionContext;
  registerWebhooks: () => Promise<Registration>;
  identity: string;
  /** The operator's namespace, where the policy key Secrets live. */
  keyNamespace: string;
  /** Where sidecars get their keys certified, and the CA to trust it with; undefined: not yet known. */
  certify: () => CertifyEndpoint | undefined;
  log: Logger;
  topicRecheckMs?: number;
  /** How long a written Secret / ConfigMap is trusted before it is read again. */
  resyncMs?: number;
}

interface TopicMemo {
  fingerprint: string;
  at: number;
  state: StepState;
}

interface WriteMemo<T> {
  fingerprint: string;
  at: number;
  value: T;
}

export class PolicyReconciler {
  private readonly deps: ReconcilerDeps;
  private readonly topics = new Map<string, TopicMemo>();
  // What was last written successfully. Pod churn re-runs reconcile often; the Secret and
  // ConfigMaps only change with the spec (or the pods' container names), so they are re-read
  // only when their inputs change or the memo is older than resyncMs (drift repair).
  private readonly keyMemo = new Map<string, WriteMemo<{ history: SigningKeyStatus[] }>>();
  private readonly configMemo = new Map<string, WriteMemo<true>>();
  private readonly rolloutFailedAt = new Map<string, { generation: number; at: number }>();

  constructor(deps: ReconcilerDeps) {
    this.deps = deps;
  }

  /** Returns true when the key should be retried with backoff. */
  async reconcile(key: string): Promise<boolean> {
    const raw = this.deps.policy(key);
    const registration = await this.deps.registerWebhooks();
    if (!raw) {
      this.topics.delete(key);
      this.keyMemo.delete(key);
      this.configMemo.delete(key);
      return false;
    }
    const now = new Date().toISOString();
    const parsed = parsePolicy(raw);
    if (!parsed.ok) {
      const status = invalidStatus(raw.metadata.generation, parsed.error.message, raw.status, now);
      await this.writeStatus(raw, status, [
        { type: "Warning", reason: "InvalidSpec", message: parsed.error.message },
      ]);
      return false;
    }
    const policy = parsed.policy;
    const pods = this.deps.podsIn(policy.namespace);

    const keyStep = await this.keys(key, policy, now);
    const configStep = await this.config(key, policy, pods);
    const topic = await this.topic(key, policy);
    const webhook: StepState = registration.ok
      ? registration.names.has(webhookName(policy))
        ? {
            ok: true,
            reason: "Registered",
            message: "the injection webhook selects this policy's pods",
          }
        : { ok: false, reason: "NotRegistered", message: "the webhook entry is missing" }
      : { ok: false, reason: registration.error.reason, message: registration.error.message };
    // The key and the config the sidecar mounts beside it: either missing keeps pods from starting.
    const key_: StepState =
      keyStep.state.ok === true && configStep !== undefined ? configStep : keyStep.state;

    const { status, events } = reconcileStatus({
      policy,
      pods,
      policies: this.deps.validPolicies(policy.namespace),
      injection: this.deps.injection,
      keys: keyStep.keys,
      key: key_,
      topic,
      webhook,
      previous: raw.status,
      now,
    });
    if (status.uncovered?.some((u) => u.reason === "SidecarNotReady")) {
      status.uncovered = await withSidecarReasons(status.uncovered, pods);
    }
    const rolloutEvents = await this.rollout(policy, status.uncovered ?? [], pods, now);
    await this.writeStatus(raw, status, [...keyStep.events, ...events, ...rolloutEvents]);
    return topic.ok !== true || key_.ok !== true || webhook.ok !== true;
  }

  private async rollout(
    policy: Policy,
    uncovered: UncoveredPod[],
    pods: PodView[],
    now: string,
  ): Promise<PolicyEvent[]> {
    const owners = ownersToRestart(policy, uncovered, pods);
    if (owners.length === 0 || !this.deps.apps) return [];
    // After a failure (typically: the optional rollout RBAC is not bound), try again only every
    // resyncMs for the same generation, so pod churn does not turn into a stream of Warnings.
    const key = `${policy.namespace}/${policy.name}`;
    const last = this.rolloutFailedAt.get(key);
    if (
      last &&
      last.generation === policy.generation &&
      Date.now() - last.at < (this.deps.resyncMs ?? 300_000)
    ) {
      return [];
    }
    const r = await restartOwners(this.deps.apps, policy, owners, now);
    if (r.failed.length > 0)
      this.rolloutFailedAt.set(key, { generation: policy.generation, at: Date.now() });
    else this.rolloutFailedAt.delete(key);
    return [
      ...r.restarted.map((t) => ({
        type: "Normal" as const,
        reason: "RolloutRestarted",
        message: `restarted ${t.kind} ${t.name} so its pods are injected with generation ${policy.generation}`,
      })),
      ...r.failed.map((f) => ({
        type: "Warning" as const,
        reason: "RolloutFailed",
        message: `could not restart ${f.target}: ${f.message}`,
      })),
    ];
  }

  private fresh<T>(memo: WriteMemo<T> | undefined, fingerprint: string): memo is WriteMemo<T> {
    return (
      memo !== undefined &&
      memo.fingerprint === fingerprint &&
      Date.now() - memo.at < (this.deps.resyncMs ?? 300_000)
    );
  }

  private async keys(key: string, policy: Policy, now: string) {
    const events: PolicyEvent[] = [];
    const fingerprint = `${policy.uid}/${policy.spec.signing.keyRotation ?? ""}`;
    const memo = this.keyMemo.get(key);
    if (this.fresh(memo, fingerprint)) {
      const current = memo.value.history[0];
      return {
        state: {
          ok: true,
          reason: "KeyAvailable",
          message: `policy key ${current?.keyId ?? "?"} is current`,
        } as StepState,
        events,
        keys: memo.value.history,
      };
    }
    try {
      const r = await ensurePolicyKey(this.deps.core, policy, now, this.deps.keyNamespace);
      if (!r.ok) {
        return {
          state: { ok: false, reason: "InvalidKey", message: r.error.message } as StepState,
          events,
          keys: undefined,
        };
      }
      if (r.value.event) events.push({ type: "Normal", ...r.value.event });
      await upsertConfigMap(this.deps.core, policy, publicKeysConfigMapName(policy.name), {
        "keys.json": JSON.stringify(r.value.history, null, 2),
      });
      const current = r.value.history[0];
      this.keyMemo.set(key, { fingerprint, at: Date.now(), value: { history: r.value.history } });
      return {
        state: {
          ok: true,
          reason: "KeyAvailable",
          message: `policy key ${current?.keyId ?? "?"} is current`,
        } as StepState,
        events,
        keys: r.value.history,
      };
    } catch (err) {
      return {
        state: { ok: false, reason: "KeyError", message: String(err) } as StepState,
        events,
        keys: undefined,
      };
    }
  }

  /** The sidecar config ConfigMap: undefined when in place (or nothing to write yet), else why not. */
  private async config(
    key: string,
    policy: Policy,
    pods: PodView[],
  ): Promise<StepState | undefined> {
    const containers = policy.spec.containers ?? [
      ...new Set(
        pods
          .filter((p) => selectorMatches(policy.spec.selector, p.labels))
          .flatMap((p) => p.containers),
      ),
    ];
    // Without spec.containers and without pods the container names are unknown: the config is
    // written when the first pod appears (its sidecar waits for the ConfigMap to mount).
    if (containers.length === 0) return undefined;
    const certify = this.deps.certify();
    if (!certify) {
      return {
        ok: false,
        reason: "CertifyEndpointUnknown",
        message:
          "the operator's certify endpoint address is not known yet (its Service has no cluster IP)",
      };
    }
    const rendered = renderSidecarConfig(policy, containers, certify);
    if (!rendered.ok) return { ok: false, reason: "ConfigError", message: rendered.error.message };
    const fingerprint = `${policy.uid}/${rendered.yaml}/${certify.caPem}`;
    if (this.fresh(this.configMemo.get(key), fingerprint)) return undefined;
    try {
      await upsertConfigMap(this.deps.core, policy, configMapName(policy.name), {
        "config.yaml": rendered.yaml,
        [CERTIFY_CA_KEY]: certify.caPem,
      });
      this.configMemo.set(key, { fingerprint, at: Date.now(), value: true });
      return undefined;
    } catch (err) {
      return { ok: false, reason: "ConfigError", message: String(err) };
    }
  }

  private async topic(key: string, policy: Policy): Promise<StepState> {
    const { kafka } = policy.spec.sink;
    const r = policy.spec.retention;
    const fingerprint = JSON.stringify([
      kafka.brokers,
      kafka.topic,
      r,
      kafka.tlsSecret,
      kafka.saslSecret,
      kafka.saslMechanism,
    ]);
    const memo = this.topics.get(key);
    if (
      memo &&
      memo.fingerprint === fingerprint &&
      memo.state.ok === true &&
      Date.now() - memo.at < (this.deps.topicRecheckMs ?? 300_000)
    ) {
      return memo.state;
    }
    let state: StepState;
    try {
      const creds = await readKafkaSecurity(this.deps.core, policy);
      if (!creds.ok) {
        state = { ok: false, reason: "CredentialsUnavailable", message: creds.error.message };
        this.topics.set(key, { fingerprint, at: Date.now(), state });
        return state;
      }
      const admin = await this.deps.admins.get(kafka.brokers, creds.security);
      const out = await ensureTopic(admin, {
        topic: kafka.topic,
        retentionDays: r.days,
        replicas: r.replicas,
        minInSync: r.minInSync,
        partitions: 3,
      });
      state = out.ok
        ? {
            ok: true,
            reason: "TopicConfigured",
            message: `topic ${kafka.topic} ${out.action}: retention ${r.days}d, replicas ${r.replicas}, min.insync ${r.minInSync}`,
          }
        : { ok: false, reason: out.error.reason, message: out.error.message };
    } catch (err) {
      state = {
        ok: false,
        reason: "BrokerUnavailable",
        message: `cannot reach ${kafka.brokers.join(",")}: ${(err as Error).message}`,
      };
    }
    this.topics.set(key, { fingerprint, at: Date.now(), state });
    return state;
  }

  private writeStatus(raw: RawPolicy, status: AuditPolicyStatus, events: PolicyEvent[]) {
    return writeStatus(this.deps, raw, status, events);
  }
}
