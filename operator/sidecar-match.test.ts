// A pod passes as injected only when it carries exactly what the policy injects: what
// injectionPatch produced (and the API server stored, defaults filled in) passes, also for a
// later generation with the same pod shape; a forged record, a hand-written or edited sidecar,
// a changed token volume or an extra mount of an injected volume fails, naming the difference.
import type { V1Container, V1Pod, V1VolumeMount } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { applyPatch } from "../test/unit/apply-patch.ts";
import { AuditPolicySpec, type AuditPolicySpecInput, type Policy } from "./api/policy.ts";
import { injectionPatch } from "./inject.ts";
import { SIDECAR_CONTAINER } from "./names.ts";
import { checkInjectedPod, injectedParts, sidecarMatches } from "./sidecar-match.ts";
import { podShape } from "./sidecar-spec.ts";

const ctx = { cluster: "prod-eu-1" };

function policy(over: Partial<AuditPolicySpecInput> = {}, generation = 3): Policy {
  return {
    name: "pay",
    namespace: "ns",
    uid: "uid-1",
    generation,
    creationTimestamp: "2026-01-01T00:00:00Z",
    spec: AuditPolicySpec.parse({
      selector: { matchLabels: { app: "pay" } },
      containers: ["api"],
      source: { paths: ["/var/log/app/access*.log"], format: "json" },
      sink: { kafka: { brokers: ["kafka:9093"], topic: "audit.pay" } },
      ...over,
    }),
  };
}

const bare = (): V1Pod => ({
  metadata: { name: "p", labels: { app: "pay" } },
  spec: {
    containers: [
      { name: "api", image: "app:1" },
      { name: "metrics", image: "exporter:1" },
    ],
  },
});

function injected(p = policy(), c: { cluster: string; nativeSidecars?: boolean } = ctx): V1Pod {
  const r = injectionPatch(bare(), p, c);
  if (!r.ok) throw new Error(r.error.message);
  return applyPatch(bare(), r.patch);
}

const sidecarOf = (pod: V1Pod): V1Container => {
  const c = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find(
    (x) => x.name === SIDECAR_CONTAINER,
  );
  if (!c) throw new Error("no sidecar");
  return c;
};

const PREFIX = "sidecar differs from what auditready-operator injects for policy pay@3: ";
const differs = (pod: V1Pod, p = policy()) => {
  const m = checkInjectedPod(pod, p, ctx);
  return m.ok ? "matches" : m.message;
};

describe("checkInjectedPod accepts", () => {
  it("a freshly injected pod, and injectionPatch gives it an empty patch (reinvocation)", () => {
    const pod = injected();
    expect(differs(pod)).toBe("matches");
    expect(injectionPatch(pod, policy(), ctx)).toEqual({ ok: true, patch: [] });
  });

  it("the pod as the API server stores it: defaults filled, fields reordered, quantities rewritten, the ServiceAccount mount added", () => {
    const p = policy({ sidecar: { resources: { limits: { cpu: "0.5", memory: "1024Mi" } } } });
    const pod = injected(p);
    const s = sidecarOf(pod);
    s.terminationMessagePath = "/dev/termination-log";
    for (const probe of [s.startupProbe, s.readinessProbe]) {
      if (!probe?.httpGet) throw new Error("no probe");
      Object.assign(probe, { timeoutSeconds: 1, successThreshold: 1 });
      probe.httpGet.scheme = "HTTP";
    }
    for (const e of s.env ?? []) if (e.valueFrom?.fieldRef) e.valueFrom.fieldRef.apiVersion = "v1";
    // Stored as canonical quantities; a limit without a request gets the limit as request.
    s.resources = {
      limits: { cpu: "500m", memory: "1Gi" },
      requests: { memory: "64Mi", cpu: "50m" },
    };
    s.volumeMounts = [
      // The API server's field order (name, readOnly, mountPath), not injection's.
      ...(s.volumeMounts ?? []).map(
        (m) => Object.fromEntries(Object.entries(m).reverse()) as V1VolumeMount,
      ),
      {
        name: "kube-api-access-x7k2p",
        mountPath: "/var/run/secrets/kubernetes.io/serviceaccount",
        readOnly: true,
      },
    ];
    const api = pod.spec?.containers[0];
    if (api?.volumeMounts)
      // A typed client leaves absent fields as undefined members.
      api.volumeMounts = api.volumeMounts.map(
        (m) => ({ ...m, readOnly: undefined }) as unknown as V1VolumeMount,
      );
    expect(differs(pod, p)).toBe("matches");
  });

  it("what in-tree admission plugins add to every container: a LimitRange default, AlwaysPullImages", () => {
    const pod = injected();
    const s = sidecarOf(pod);
    s.imagePullPolicy = "Always";
    s.resources = {
      requests: { ...s.resources?.requests, "ephemeral-storage": "1Gi" },
      limits: { ...s.resources?.limits, cpu: "1", "ephemeral-storage": "2Gi" },
    };
    expect(differs(pod)).toBe("matches");
  });

  it("a pod injected by an older generation when the pod shape is unchanged", () => {
    const old = injected(policy({}, 2));
    const now = policy({ redact: [{ field: "password" }] }, 7);
    expect(podShape(now)).toBe(podShape(policy({}, 2)));
    expect(differs(old, now)).toBe("matches");
  });

  it("a regular-container sidecar with Kafka TLS and SASL, as injected", () => {
    const p = policy({
      sidecar: { native: false },
      sink: { kafka: { brokers: ["k:1"], topic: "t", tlsSecret: "tls", saslSecret: "sasl" } },
    });
    expect(differs(injected(p), p)).toBe("matches");
  });
});

describe("checkInjectedPod refuses, naming the first difference", () => {
  const cases: [string, (pod: V1Pod) => void, string][] = [
    [
      "a forged annotation without a sidecar",
      (pod) => {
        if (pod.spec) pod.spec.initContainers = [];
      },
      "the pod has no auditready-sidecar container",
    ],
    [
      "an annotation naming another policy",
      (pod) => {
        if (pod.metadata?.annotations) pod.metadata.annotations["auditready.dev/injected"] = "x@3";
      },
      'auditready.dev/injected names policy "x", expected "pay"',
    ],
    [
      "an annotation naming a generation the policy never had",
      (pod) => {
        if (pod.metadata?.annotations)
          pod.metadata.annotations["auditready.dev/injected"] = "pay@9";
      },
      "auditready.dev/injected names generation 9, the policy is at generation 3",
    ],
    [
      "a sidecar container without the annotation",
      (pod) => {
        if (pod.metadata) pod.metadata.annotations = {};
      },
      "the pod has a container named auditready-sidecar but no auditready.dev/injected annotation (only auditready-operator adds that container)",
    ],
    [
      "another image",
      (pod) => {
        sidecarOf(pod).image = "evil:1";
      },
      'image is "evil:1", expected "auditready:0.1.0"',
    ],
    [
      "an extra env variable",
      (pod) => {
        sidecarOf(pod).env?.push({ name: "AUDITREADY_DEBUG", value: "1" });
      },
      'env[7] is {"name":"AUDITREADY_DEBUG","value":"1"}, expected nothing',
    ],
    [
      "a command instead of the image's entrypoint",
      (pod) => {
        sidecarOf(pod).command = ["sh", "-c", "cat /var/run/secrets/auditready.dev/token"];
      },
      'command is ["sh","-c","cat /var/run/secrets/auditready.dev/token"], expected nothing',
    ],
    [
      "a resource injection sets, changed",
      (pod) => {
        const r = sidecarOf(pod).resources;
        if (r?.limits) r.limits.memory = "8Gi";
      },
      `resources.limits.memory is "${8 * 2 ** 30}", expected "${256 * 2 ** 20}"`,
    ],
    [
      "the ServiceAccount mount path holding another volume",
      (pod) => {
        sidecarOf(pod).volumeMounts?.push({
          name: "host-creds",
          mountPath: "/var/run/secrets/kubernetes.io/serviceaccount",
          readOnly: true,
        });
      },
      'volumeMounts[4] is {"name":"host-creds","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","readOnly":true}, expected nothing',
    ],
    [
      "a privileged sidecar",
      (pod) => {
        const sc = sidecarOf(pod).securityContext;
        if (sc) sc.privileged = true;
      },
      "securityContext.privileged is true, expected false",
    ],
    [
      "a token volume for another audience",
      (pod) => {
        const t = pod.spec?.volumes?.find((v) => v.name === "auditready-token");
        const sat = t?.projected?.sources?.[0]?.serviceAccountToken;
        if (sat) sat.audience = "https://kubernetes.default.svc";
      },
      'volume auditready-token: projected.sources[0].serviceAccountToken.audience is "https://kubernetes.default.svc", expected "auditready"',
    ],
    [
      "a token volume that lives longer",
      (pod) => {
        const t = pod.spec?.volumes?.find((v) => v.name === "auditready-token");
        const sat = t?.projected?.sources?.[0]?.serviceAccountToken;
        if (sat) delete sat.expirationSeconds;
      },
      "volume auditready-token: projected.sources[0].serviceAccountToken.expirationSeconds is 3600, expected 600",
    ],
    [
      "the policy key mounted back into the config volume",
      (pod) => {
        const c = pod.spec?.volumes?.find((v) => v.name === "auditready-config");
        c?.projected?.sources?.push({
          secret: {
            name: "auditready-pay-key",
            items: [{ key: "policy.key", path: "keys/policy.key" }],
          },
        });
      },
      'volume auditready-config: projected.sources[1] is {"secret":{"name":"auditready-pay-key","items":[{"key":"policy.key","path":"keys/policy.key"}]}}, expected nothing',
    ],
    [
      "an extra mount of the log volume in a container the policy does not select",
      (pod) => {
        const m = pod.spec?.containers[1];
        if (m) m.volumeMounts = [{ name: "auditready-logs-0", mountPath: "/logs" }];
      },
      'container metrics mounts {"mountPath":"/logs","name":"auditready-logs-0"}, which injection does not add',
    ],
    [
      "the app container reading the whole log volume instead of its subPath",
      (pod) => {
        const api = pod.spec?.containers[0];
        if (api) api.volumeMounts = [{ name: "auditready-logs-0", mountPath: "/var/log/app" }];
      },
      'container api mounts {"mountPath":"/var/log/app","name":"auditready-logs-0"}, which injection does not add',
    ],
    [
      "the token volume mounted into an app container",
      (pod) => {
        pod.spec?.containers[0]?.volumeMounts?.push({
          name: "auditready-token",
          mountPath: "/t",
        });
      },
      'container api mounts {"mountPath":"/t","name":"auditready-token"}, which injection does not add',
    ],
    [
      "a volume of the app asking for an auditready token",
      (pod) => {
        pod.spec?.volumes?.push({
          name: "mine",
          projected: { sources: [{ serviceAccountToken: { audience: "auditready", path: "t" } }] },
        });
      },
      'volume mine asks for a ServiceAccount token for audience "auditready", which only auditready-sidecar may hold',
    ],
    [
      "the sidecar moved to the regular containers",
      (pod) => {
        const s = sidecarOf(pod);
        if (pod.spec) {
          pod.spec.initContainers = [];
          pod.spec.containers.push(s);
        }
      },
      "auditready-sidecar is a regular container, expected a native sidecar (an init container)",
    ],
    [
      "an ephemeral container that targets the sidecar",
      (pod) => {
        if (pod.spec)
          pod.spec.ephemeralContainers = [
            { name: "debug", image: "busybox", targetContainerName: SIDECAR_CONTAINER },
          ];
      },
      "ephemeral container debug targets auditready-sidecar, whose processes it would see",
    ],
  ];
  for (const [what, edit, difference] of cases) {
    it(what, () => {
      const pod = injected();
      edit(pod);
      expect(differs(pod)).toBe(`${PREFIX}${difference}`);
    });
  }

  it("a pod injected by an older generation with another pod shape", () => {
    const old = injected(policy({ source: { paths: ["/srv/a.log"], format: "json" } }, 2));
    expect(differs(old)).toMatch(
      new RegExp(
        `^${PREFIX}auditready.dev/injected-shape is "[0-9a-f]{16}", expected "${podShape(policy())}"`,
      ),
    );
  });
});

describe("sidecarMatches", () => {
  it("works on the parts the controller keeps, so coverage and admission agree", () => {
    const pod = injected();
    expect(sidecarMatches(injectedParts(pod), policy(), ctx)).toEqual({ ok: true });
    sidecarOf(pod).image = "evil:1";
    const parts = JSON.parse(JSON.stringify(injectedParts(pod)));
    expect(sidecarMatches(parts, policy(), ctx)).toEqual({
      ok: false,
      message: `${PREFIX}image is "evil:1", expected "auditready:0.1.0"`,
    });
  });

  it("compares against the regular-container form on a server without native sidecars", () => {
    const old = { cluster: "prod-eu-1", nativeSidecars: false };
    const pod = injected(policy(), old);
    expect(sidecarMatches(injectedParts(pod), policy(), old)).toEqual({ ok: true });
    expect(sidecarMatches(injectedParts(pod), policy(), ctx).ok).toBe(false);
  });
});
