// The certify endpoint's I/O: POST /certify with the sidecar's projected ServiceAccount token as
// a bearer token. The API server's TokenReview says whether the token is genuine, for audience
// `auditready`, and which pod it is bound to; the pod is then read fresh (never from a cache,
// so a deleted or recreated pod is refused at once) and decide() says what may be certified.
// The policy key never leaves this process: the answer carries only the signed certificates.
import type { AuthenticationV1Api, CoreV1Api } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Counter } from "prom-client";
import { certifyKey } from "../../entry/cert.ts";
import { keyIdOf } from "../../entry/keys.ts";
import type { KeyCert } from "../../entry/record.ts";
import type { Policy } from "../api/policy.ts";
import type { CurrentKey } from "../controller/keysecret.ts";
import { notFound } from "../controller/objects.ts";
import { INJECTED_ANNOTATION, parseInjected, TOKEN_AUDIENCE } from "../names.ts";
import { checkInjectedPod } from "../sidecar-match.ts";
import type { InjectionContext } from "../sidecar-spec.ts";
import {
  type CertifyRequest,
  decide,
  type PodFacts,
  podFacts,
  type ReviewedToken,
} from "./decide.ts";

export interface CertifyDeps {
  auth: AuthenticationV1Api;
  core: CoreV1Api;
  cluster: string;
  policiesIn: (namespace: string) => readonly Policy[];
  /** The policy's current signing key, or why it is not available. */
  policyKey: (policy: Policy) => Promise<CurrentKey | { error: string }>;
  /** Checks the pod's sidecar against what injection makes (admission's own check). */
  injection: InjectionContext;
  validityMs: number;
  log: Logger;
  requests: Counter<"result">;
}

export interface CertifyAnswer {
  status: number;
  body: { certs: KeyCert[] } | { error: string };
}

const POD_NAME = "authentication.kubernetes.io/pod-name";
const POD_UID = "authentication.kubernetes.io/pod-uid";
const SA_PREFIX = "system:serviceaccount:";

export class CertifyService {
  private readonly d: CertifyDeps;
  constructor(deps: CertifyDeps) {
    this.d = deps;
  }

  async handle(authorization: string | undefined, body: string): Promise<CertifyAnswer> {
    const answer = await this.answer(authorization, body).catch((err: unknown) => ({
      status: 503,
      body: { error: `cannot certify now: ${(err as Error).message}` },
    }));
    const result = answer.status === 200 ? "certified" : String(answer.status);
    this.d.requests.inc({ result });
    return answer;
  }

  private async answer(authorization: string | undefined, body: string): Promise<CertifyAnswer> {
    const token = /^Bearer (\S+)$/.exec(authorization ?? "")?.[1];
    if (!token)
      return fail(401, "no bearer token: present the pod's projected ServiceAccount token");
    let req: CertifyRequest;
    try {
      req = JSON.parse(body) as CertifyRequest;
    } catch {
      return fail(400, "the body is not JSON");
    }
    const reviewed = await this.review(token);
    if ("error" in reviewed) return fail(401, reviewed.error);
    const pod = await this.pod(reviewed);
    const policies = this.d.policiesIn(reviewed.namespace);
    const decision = decide(req, reviewed, pod, policies, {
      cluster: this.d.cluster,
      now: Date.now(),
      validityMs: this.d.validityMs,
    });
    if (!decision.ok) {
      this.d.log.warn(
        {
          pod: `${reviewed.namespace}/${reviewed.podName}`,
          status: decision.status,
          reason: decision.message,
        },
        "certification refused",
      );
      return fail(decision.status, decision.message);
    }
    const g = decision.grant;
    const key = await this.d.policyKey(g.policy);
    if ("error" in key) return fail(503, key.error);
    const raw = Buffer.from(req.key, "base64");
    // A certificate never starts before the policy key that signs it was current: after a
    // rotation, a renewal covers from the rotation on; the earlier one (old key) covers before.
    const notBefore = new Date(Math.max(Date.parse(g.notBefore), key.notBefore)).toISOString();
    const certs = g.streams.map((s) =>
      certifyKey(key.signing, {
        key: raw.toString("base64"),
        keyId: keyIdOf(raw),
        origin: s.origin,
        epoch: s.epoch,
        container: s.container,
        subject: g.subject,
        notBefore,
        notAfter: g.notAfter,
      }),
    );
    this.d.log.info(
      {
        pod: `${g.subject.namespace}/${g.subject.pod}`,
        keyId: keyIdOf(raw),
        streams: certs.length,
        notAfter: g.notAfter,
      },
      "epoch key certified",
    );
    return { status: 200, body: { certs } };
  }

  private async review(token: string): Promise<ReviewedToken | { error: string }> {
    const r = await this.d.auth.createTokenReview({
      body: { spec: { token, audiences: [TOKEN_AUDIENCE] } },
    });
    const s = r.status;
    if (!s?.authenticated) return { error: `token rejected: ${s?.error || "not authenticated"}` };
    if (!(s.audiences ?? []).includes(TOKEN_AUDIENCE))
      return { error: `the token is not for audience ${TOKEN_AUDIENCE}` };
    const user = s.user?.username ?? "";
    if (!user.startsWith(SA_PREFIX)) return { error: `${user} is not a ServiceAccount` };
    const [namespace = "", serviceAccount = ""] = user.slice(SA_PREFIX.length).split(":");
    const podName = s.user?.extra?.[POD_NAME]?.[0];
    const podUid = s.user?.extra?.[POD_UID]?.[0];
    if (!podName || !podUid)
      return {
        error: "the token is not bound to a pod (use the projected token the sidecar mounts)",
      };
    return { namespace, serviceAccount, podName, podUid };
  }

  private async pod(t: ReviewedToken): Promise<PodFacts | undefined> {
    try {
      const raw = await this.d.core.readNamespacedPod({ namespace: t.namespace, name: t.podName });
      const facts = podFacts(raw);
      // The pod as it is now, not as admitted: a sidecar edited since (an image swapped, a
      // debug container aimed at it) is refused here too.
      const named = parseInjected(facts.annotations[INJECTED_ANNOTATION])?.policy;
      const policy = this.d.policiesIn(t.namespace).find((p) => p.name === named);
      const match = policy && checkInjectedPod(raw, policy, this.d.injection);
      return match && !match.ok ? { ...facts, sidecarMismatch: match.message } : facts;
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
  }
}

function fail(status: number, error: string): CertifyAnswer {
  return { status, body: { error } };
}
