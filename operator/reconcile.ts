// The level-triggered core of the controller, pure: from a policy, the pods of its namespace,
// the other policies there, and what the I/O steps reported (key, topic, webhook), compute the
// status the policy should have and the Events worth emitting. Same inputs, same output; the
// controller applies the difference. lastTransitionTime only moves when a status flips.
import type {
  AuditPolicyStatus,
  Condition,
  Policy,
  SigningKeyStatus,
  UncoveredPod,
} from "./api/policy.ts";
import { parseInjected, publicKeysConfigMapName } from "./names.ts";
import type { PodView } from "./podview.ts";
import { selectingPolicies, selectorMatches } from "./select.ts";
import { sidecarMatches } from "./sidecar-match.ts";
import { type InjectionContext, podShape } from "./sidecar-spec.ts";

export const MAX_UNCOVERED = 100;

const EMPTY_PARTS = { volumes: [], others: [], fsGroup: false, foreignTokens: [] };

export type StepState =
  | { ok: true; reason: string; message: string }
  | { ok: false; reason: string; message: string }
  | { ok: "unknown"; reason: string; message: string };

export interface Observed {
  policy: Policy;
  /** Pods of the policy's namespace. */
  pods: readonly PodView[];
  /** Valid policies of the same namespace, this one included (for conflicts). */
  policies: readonly Policy[];
  /** What the webhook injects with (cluster name, native sidecars): the sidecar pods must carry. */
  injection: InjectionContext;
  keys: SigningKeyStatus[] | undefined;
  key: StepState;
  topic: StepState;
  webhook: StepState;
  previous: AuditPolicyStatus | undefined;
  now: string;
}

export interface Coverage {
  matched: number;
  injected: number;
  ready: number;
  uncovered: UncoveredPod[];
}

export interface PolicyEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export function coverage(
  policy: Policy,
  pods: readonly PodView[],
  policies: readonly Policy[],
  injection: InjectionContext,
): Coverage {
  const result: Coverage = { matched: 0, injected: 0, ready: 0, uncovered: [] };
  const policyCreated = Date.parse(policy.creationTimestamp);
  const shape = podShape(policy);
  const sorted = [...pods].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const pod of sorted) {
    if (pod.terminating || pod.namespace !== policy.namespace) continue;
    if (!selectorMatches(policy.spec.selector, pod.labels)) continue;
    result.matched++;
    const uncovered = (reason: UncoveredPod["reason"], message: string) =>
      result.uncovered.push({ pod: pod.name, reason, message });
    const record = parseInjected(pod.injected);
    const owner = selectingPolicies(pod.namespace, pod.labels, policies)[0];
    if (record === undefined) {
      if (owner && owner.name !== policy.name) {
        uncovered(
          "ConflictingPolicy",
          `also selected by AuditPolicy ${owner.name}, which injects it`,
        );
      } else if (pod.optedOut) {
        uncovered("OptedOut", 'the pod has auditready.dev/inject: "false"');
      } else if (Date.parse(pod.createdAt) < policyCreated) {
        uncovered(
          "CreatedBeforePolicy",
          "created before the policy; restart it (or its owner) to inject the sidecar",
        );
      } else {
        uncovered(
          "NotInjected",
          "created without the sidecar (the webhook was unavailable or not yet registered)",
        );
      }
      continue;
    }
    if (record.policy !== policy.name) {
      uncovered("ConflictingPolicy", `injected by AuditPolicy ${record.policy}`);
      continue;
    }
    if (pod.injectedShape !== shape) {
      uncovered(
        "OutdatedGeneration",
        record.generation < policy.generation
          ? `injected with generation ${record.generation}, the policy is at ${policy.generation}; restart it to update`
          : "injected with another pod shape (an older operator version); restart it to update",
      );
      continue;
    }
    // Injected is what the pod carries, not what its annotation says: a forged annotation or an
    // edited sidecar (an image changed after creation) is not counted.
    const match = sidecarMatches(pod.parts ?? EMPTY_PARTS, policy, injection);
    if (!match.ok) {
      uncovered("SidecarMismatch", match.message);
      continue;
    }
    result.injected++;
    if (pod.sidecarReady === true) result.ready++;
    else
      uncovered(
        "SidecarNotReady",
        pod.sidecarProblem
          ? `the auditready-sidecar container is not ready: ${pod.sidecarProblem}`
          : "the auditready-sidecar container is not ready",
      );
  }
  return result;
}

function condition(
  type: Condition["type"],
  s: StepState,
  previous: AuditPolicyStatus | undefined,
  generation: number,
  now: string,
): Condition {
  const status = s.ok === true ? "True" : s.ok === false ? "False" : "Unknown";
  const before = previous?.conditions?.find((c) => c.type === type);
  return {
    type,
    status,
    reason: s.reason,
    message: s.message,
    observedGeneration: generation,
    lastTransitionTime: before && before.status === status ? before.lastTransitionTime : now,
  };
}

export function reconcileStatus(o: Observed): { status: AuditPolicyStatus; events: PolicyEvent[] } {
  const { policy, previous, now } = o;
  const cov = coverage(policy, o.pods, o.policies, o.injection);
  const steps: [Condition["type"], StepState][] = [
    ["KeyReady", o.key],
    ["TopicReady", o.topic],
    ["WebhookReady", o.webhook],
  ];
  const failing = steps.find(([, s]) => s.ok !== true);
  const ready: StepState = failing
    ? {
        ok: false,
        reason: `${failing[0].replace("Ready", "")}NotReady`,
        message: failing[1].message,
      }
    : cov.uncovered.length > 0
      ? {
          ok: false,
          reason: "PodsUncovered",
          message: `${cov.uncovered.length} of ${cov.matched} matched pods are not covered`,
        }
      : { ok: true, reason: "Covered", message: `all ${cov.matched} matched pods are covered` };
  const conditions = [["Ready", ready] as [Condition["type"], StepState], ...steps].map(([t, s]) =>
    condition(t, s, previous, policy.generation, now),
  );
  const status: AuditPolicyStatus = {
    observedGeneration: policy.generation,
    conditions,
    matchedPods: cov.matched,
    injectedPods: cov.injected,
    readyPods: cov.ready,
    coverage: `${cov.ready}/${cov.matched}`,
    uncovered: cov.uncovered.slice(0, MAX_UNCOVERED),
    topic: policy.spec.sink.kafka.topic,
    ...(o.keys && {
      signingKeys: o.keys,
      publicKeysConfigMap: publicKeysConfigMapName(policy.name),
    }),
    integrity: previous?.integrity ?? { state: "Unverified" },
  };
  const events: PolicyEvent[] = [];
  for (const c of conditions) {
    const before = previous?.conditions?.find((p) => p.type === c.type);
    if (before?.status === c.status && before.reason === c.reason) continue;
    if (c.status === "Unknown") continue;
    events.push({
      type: c.status === "True" ? "Normal" : "Warning",
      reason: c.reason,
      message: `${c.type}: ${c.message}`,
    });
  }
  return { status, events };
}

/** Whether a write is needed; key order differs between what we build and what the server returns. */
export function sameStatus(a: AuditPolicyStatus | undefined, b: AuditPolicyStatus): boolean {
  return stable(a ?? {}) === stable(b);
}

function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

/** For a policy that failed to parse: only Ready=False with the field message. */
export function invalidStatus(
  generation: number,
  message: string,
  previous: AuditPolicyStatus | undefined,
  now: string,
): AuditPolicyStatus {
  return {
    ...previous,
    observedGeneration: generation,
    conditions: [
      condition("Ready", { ok: false, reason: "InvalidSpec", message }, previous, generation, now),
    ],
  };
}
