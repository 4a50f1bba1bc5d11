// The certify endpoint on the real API server: a pod's projected-style token (TokenRequest,
// audience auditready, bound to the pod) gets an epoch key certified for exactly that pod's
// stream, signed by the policy key the status publishes; every other attempt is refused with
// the reason. The operator runs as its own ServiceAccount under the chart's RBAC.
import { createPrivateKey, generateKeyPairSync, sign } from "node:crypto";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { readLedger } from "../../cli/sources.ts";
import { certSignatureValid } from "../../entry/cert.ts";
import { keyIdOf } from "../../entry/keys.ts";
import type { KeyCert } from "../../entry/record.ts";
import { Verifier } from "../../entry/verify/verifier.ts";
import type { AuditPolicyStatus } from "../../operator/api/policy.ts";
import { SidecarConfig } from "../../sidecar/config/schema.ts";
import { endpoint } from "../infra/endpoints.ts";
import { freePort } from "../infra/process.ts";
import {
  adminConfig,
  createNamespace,
  type Deployment,
  deployOperator,
  installCrd,
  minimalSpec,
  podBody,
  policyBody,
  policyRef,
  readPolicy,
  runId,
  until,
} from "./operator-support.ts";
import { accessLine, findingCodes, readiness, startSidecar } from "./sidecar-harness.ts";

const kc = adminConfig();
const core = kc.makeApiClient(CoreV1Api);
const objects = kc.makeApiClient(CustomObjectsApi);
const run = runId();
const namespace = `certify-${run}`;
let deployment: Deployment;
let operatorPort = 0;
let stopOperator: () => Promise<void>;
let config: SidecarConfig;
let ca = "";

const rawKey = () => {
  const { publicKey } = generateKeyPairSync("ed25519");
  return Buffer.from(String(publicKey.export({ format: "jwk" }).x), "base64url");
};

async function tokenFor(pod: V1Pod, audience = "auditready"): Promise<string> {
  const r = await core.createNamespacedServiceAccountToken({
    namespace,
    name: "app",
    body: {
      spec: {
        audiences: [audience],
        expirationSeconds: 600,
        boundObjectRef: {
          kind: "Pod",
          apiVersion: "v1",
          name: pod.metadata?.name ?? "",
          uid: pod.metadata?.uid ?? "",
        },
      },
    },
  });
  return r.status?.token ?? "";
}

function certify(
  token: string | undefined,
  body: unknown,
): Promise<{ status: number; body: { certs?: KeyCert[]; error?: string } }> {
  const url = config.signing.certify?.url ?? "";
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        ca,
        headers: {
          "content-type": "application/json",
          ...(token !== undefined && { authorization: `Bearer ${token}` }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString()) as { error?: string },
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

const originOf = (pod: string) => {
  const path = config.sources[0]?.paths[0] ?? "";
  return `it-cluster/${namespace}/${pod}/api/${path.replace(/^\/+/, "")}`;
};

async function createPod(name: string, labels: Record<string, string>): Promise<V1Pod> {
  return core.createNamespacedPod({
    namespace,
    body: podBody(name, labels, {
      spec: {
        serviceAccountName: "app",
        containers: [{ name: "api", image: "registry.invalid/app:1" }],
      },
    }),
  });
}

describe("POST /certify on the real API server", () => {
  beforeAll(async () => {
    await installCrd(kc);
    deployment = await deployOperator(kc, run);
    const op = await deployment.start("certify-a");
    operatorPort = op.webhookPort;
    stopOperator = () => op.stop();
    await createNamespace(kc, namespace);
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "app" } } });
    await objects.createNamespacedCustomObject({
      ...policyRef(namespace),
      body: policyBody("pay", minimalSpec("pay", `certify-${run}`, { containers: ["api"] }), run),
    });
    let n = 0;
    await until(
      "injection in effect",
      async () => {
        const name = `probe-${n++}`;
        const created = await createPod(name, { app: "pay" });
        await core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 });
        return created.metadata?.annotations?.["auditready.dev/injected"] ? true : undefined;
      },
      30_000,
    );
    const cm = await until("sidecar config", () =>
      core.readNamespacedConfigMap({ namespace, name: "auditready-pay-config" }),
    );
    config = SidecarConfig.parse(parse(cm.data?.["config.yaml"] ?? ""));
    ca = cm.data?.["certify-ca.crt"] ?? "";
  }, 120_000);

  afterAll(async () => {
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    await deployment?.cleanup();
  });

  it("certifies a pod's key for its own stream, bound to its UID, signed by the published policy key", async () => {
    const pod = await createPod("pay-1", { app: "pay" });
    const key = rawKey();
    const origin = originOf("pay-1");
    const r = await certify(await tokenFor(pod), {
      key: key.toString("base64"),
      streams: [{ origin, epoch: 7, container: "api" }],
    });
    expect(r.status, r.body.error).toBe(200);
    const cert = r.body.certs?.[0] as KeyCert;
    expect(cert).toMatchObject({
      keyId: keyIdOf(key),
      origin,
      epoch: 7,
      container: "api",
      subject: {
        cluster: "it-cluster",
        namespace,
        pod: "pay-1",
        podUid: pod.metadata?.uid,
        serviceAccount: "app",
        policy: "pay",
      },
    });
    const validity = Date.parse(cert.notAfter) - Date.now();
    expect(validity).toBeGreaterThan(55 * 60_000);
    expect(validity).toBeLessThanOrEqual(60 * 60_000);
    // Not before the pod existed.
    expect(Date.parse(cert.notBefore)).toBeGreaterThanOrEqual(
      Date.parse(String(pod.metadata?.creationTimestamp)),
    );
    const policyKey = await until("the policy key on the status", async () => {
      const status = (await readPolicy(kc, namespace, "pay")).status as
        | AuditPolicyStatus
        | undefined;
      return status?.signingKeys?.find((k) => k.keyId === cert.policyKeyId);
    });
    expect(policyKey).toBeDefined();
    expect(certSignatureValid(cert, Buffer.from(policyKey?.publicKey ?? "", "base64"))).toBe(true);
  });

  it("refuses another pod's stream, naming the stream the pod may have", async () => {
    const pod = await createPod("pay-2", { app: "pay" });
    const r = await certify(await tokenFor(pod), {
      key: rawKey().toString("base64"),
      streams: [{ origin: originOf("pay-1"), epoch: 1, container: "api" }],
    });
    expect(r.status).toBe(403);
    expect(r.body.error).toContain(`cannot have stream ${originOf("pay-1")}`);
    expect(r.body.error).toContain(`its stream for api is ${originOf("pay-2")}`);
  });

  it("refuses a token of another audience, a garbage token and no token", async () => {
    const pod = await createPod("pay-3", { app: "pay" });
    const body = {
      key: rawKey().toString("base64"),
      streams: [{ origin: originOf("pay-3"), epoch: 1, container: "api" }],
    };
    const other = await certify(await tokenFor(pod, "vault"), body);
    expect(other.status).toBe(401);
    expect(other.body.error).toMatch(/^token rejected: .*audience/);
    const garbage = await certify("not-a-token", body);
    expect(garbage.status).toBe(401);
    const none = await certify(undefined, body);
    expect(none.status).toBe(401);
    expect(none.body.error).toContain("no bearer token");
    // The right token for the same body passes: the refusals were for the token alone.
    expect((await certify(await tokenFor(pod), body)).status).toBe(200);
  });

  it("refuses an expired token, and accepts its unexpired twin (both signed as the API server signs)", async () => {
    // The API server will not issue a token shorter than 10 minutes: sign one with its own
    // ServiceAccount key, as it would, once with exp in the past and once in the future.
    const pod = await createPod("pay-5", { app: "pay" });
    const sa = await core.readNamespacedServiceAccount({ namespace, name: "app" });
    const key = createPrivateKey(readFileSync(endpoint("kubeSaKeyFile"), "utf8"));
    const now = Math.floor(Date.now() / 1000);
    const token = (exp: number) => {
      const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
      const body = `${b64({ alg: "ES256", typ: "JWT" })}.${b64({
        iss: `${endpoint("kubeServer")}/`,
        aud: ["auditready"],
        sub: `system:serviceaccount:${namespace}:app`,
        iat: now - 900,
        nbf: now - 900,
        exp,
        "kubernetes.io": {
          namespace,
          pod: { name: "pay-5", uid: pod.metadata?.uid },
          serviceaccount: { name: "app", uid: sa.metadata?.uid },
        },
      })}`;
      const sig = sign("sha256", Buffer.from(body), { key, dsaEncoding: "ieee-p1363" });
      return `${body}.${sig.toString("base64url")}`;
    };
    const body = {
      key: rawKey().toString("base64"),
      streams: [{ origin: originOf("pay-5"), epoch: 1, container: "api" }],
    };
    const expired = await certify(token(now - 60), body);
    expect(expired.status).toBe(401);
    expect(expired.body.error).toMatch(/^token rejected: .*expired/);
    expect((await certify(token(now + 600), body)).status).toBe(200);
  });

  it("refuses a pod no policy injected", async () => {
    const pod = await createPod("other-1", { app: "other" });
    const r = await certify(await tokenFor(pod), {
      key: rawKey().toString("base64"),
      streams: [{ origin: originOf("other-1"), epoch: 1, container: "api" }],
    });
    expect(r.status).toBe(403);
    expect(r.body.error).toBe(`pod ${namespace}/other-1 was not injected by auditready`);
  });

  it("refuses a deleted pod's token, and a recreated pod of the same name with the old token", async () => {
    const pod = await createPod("pay-4", { app: "pay" });
    const token = await tokenFor(pod);
    const body = {
      key: rawKey().toString("base64"),
      streams: [{ origin: originOf("pay-4"), epoch: 1, container: "api" }],
    };
    await core.deleteNamespacedPod({ namespace, name: "pay-4", gracePeriodSeconds: 0 });
    await until("pod gone", async () =>
      (await core.listNamespacedPod({ namespace })).items.some((p) => p.metadata?.name === "pay-4")
        ? undefined
        : true,
    );
    const gone = await certify(token, body);
    expect(gone.status).toBe(401);
    expect(gone.body.error).toMatch(/^token rejected: /);
    await createPod("pay-4", { app: "pay" });
    const recreated = await certify(token, body);
    expect(recreated.status).toBe(401);
  });

  it("holds a sidecar's records while the operator is down, then publishes them certified: verified, no finding", async () => {
    // A policy whose logs live under a temp folder, so a sidecar on this host reads the very
    // paths the operator certifies streams for.
    const root = mkdtempSync(join(tmpdir(), "ar-hold-"));
    await objects.createNamespacedCustomObject({
      ...policyRef(namespace),
      body: policyBody(
        "hold",
        minimalSpec("hold", `certify-hold-${run}`, {
          containers: ["api"],
          source: { paths: [`${root}/logs/access.log`], format: "combined" },
        }),
        run,
      ),
    });
    const cm = await until("the hold policy's sidecar config", () =>
      core.readNamespacedConfigMap({ namespace, name: "auditready-hold-config" }),
    );
    const rendered = parse(cm.data?.["config.yaml"] ?? "") as SidecarConfig;
    const pod = await until("an injected pod", async () => {
      // Bound to a node as the scheduler would: the node is part of the certified identity.
      const p = await core.createNamespacedPod({
        namespace,
        body: podBody(
          `hold-${runId()}`,
          { app: "hold" },
          {
            spec: {
              serviceAccountName: "app",
              nodeName: "node-1",
              containers: [{ name: "api", image: "registry.invalid/app:1" }],
            },
          },
        ),
      });
      return p.metadata?.annotations?.["auditready.dev/injected"]?.startsWith("hold@")
        ? p
        : undefined;
    });
    const name = pod.metadata?.name ?? "";
    const logDir = join(root, "logs", "api");
    mkdirSync(logDir, { recursive: true });
    const files = join(root, "files");
    mkdirSync(files);
    writeFileSync(join(files, "ca.crt"), cm.data?.["certify-ca.crt"] ?? "");
    writeFileSync(join(files, "token"), await tokenFor(pod));
    const ledger = join(root, "ledger.jsonl");
    const port = await freePort();
    const configPath = join(files, "config.yaml");
    writeFileSync(
      configPath,
      stringify({
        ...rendered,
        signing: {
          ...rendered.signing,
          certify: {
            ...rendered.signing.certify,
            caFile: join(files, "ca.crt"),
            tokenFile: join(files, "token"),
          },
        },
        sink: { ledger: { path: ledger } },
        tail: { pollMs: 50, partialLineFlushMs: 500, rotateWaitMs: 500 },
        server: { host: "127.0.0.1", port },
      }),
    );
    const certifyUrl = rendered.signing.certify?.url ?? "";
    expect(certifyUrl).toBe(`https://127.0.0.1:${operatorPort}/certify`);

    await stopOperator();
    const sidecar = startSidecar({
      configPath,
      env: {
        ...process.env,
        AUDITREADY_CLUSTER: "it-cluster",
        POD_NAME: name,
        POD_NAMESPACE: namespace,
        POD_UID: pod.metadata?.uid ?? "",
        NODE_NAME: "node-1",
        POD_SERVICE_ACCOUNT: "app",
        AUDITREADY_GRACE_MS: "20000",
      },
    } as unknown as Parameters<typeof startSidecar>[0]);
    try {
      for (let i = 0; i < 20; i++) appendFileSync(join(logDir, "access.log"), accessLine(i));
      const held = await until("the sidecar saying why it holds", async () => {
        const r = await readiness({ port } as Parameters<typeof readiness>[0]);
        const reasons = (r?.body as { reasons?: string[] } | undefined)?.reasons ?? [];
        return r?.status === 503 &&
          reasons.some((x) => x.includes("not certified") && x.includes("cannot reach"))
          ? reasons
          : undefined;
      });
      expect(held.join("; ")).toMatch(/cannot reach the operator at https:\/\/127\.0\.0\.1/);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/^auditready_key_certified 0$/m);
      // Read and sealed, but nothing published: the ledger was never written.
      expect(() => readFileSyncOrUndefined(ledger)).not.toThrow();
      expect(readFileSyncOrUndefined(ledger)).toBeUndefined();

      // The operator comes back on the same address.
      const back = await deployment.start("certify-b", {
        webhook: {
          host: "127.0.0.1",
          port: operatorPort,
          endpoint: { url: `https://127.0.0.1:${operatorPort}/mutate` },
          configurationName: deployment.names.webhookConfiguration,
          certSecretName: "auditready-webhook-cert",
          dnsNames: [],
          ipAddresses: ["127.0.0.1"],
        },
      });
      stopOperator = () => back.stop();
      await until(
        "ready, certified",
        async () =>
          (await readiness({ port } as Parameters<typeof readiness>[0]))?.status === 200 ||
          undefined,
        60_000,
      );
      const logs = async () => {
        let n = 0;
        for await (const m of readLedger(ledger, () => undefined))
          if (JSON.parse(m.value.toString()).type === "log") n++;
        return n;
      };
      await until(
        "20 records published",
        async () => ((await logs()) === 20 ? true : undefined),
        30_000,
      );
      sidecar.child.kill("SIGTERM");
      expect(await sidecar.exited).toBe(0);
    } finally {
      sidecar.child.kill("SIGKILL");
    }
    const status = (await readPolicy(kc, namespace, "hold")).status as AuditPolicyStatus;
    const verifier = new Verifier({
      trustedKeys: (status.signingKeys ?? []).map((k) => ({ publicKey: k.publicKey })),
    });
    for await (const m of readLedger(ledger, () => undefined)) verifier.add(m);
    const report = verifier.finish();
    expect(findingCodes(report)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.streams[0]?.origin).toBe(
      `it-cluster/${namespace}/${name}/api/${root.replace(/^\/+/, "")}/logs/api/access.log`,
    );
  }, 120_000);
});

function readFileSyncOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
