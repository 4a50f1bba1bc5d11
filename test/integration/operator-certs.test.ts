// The webhook's serving certificate on the real API server: a pair close to expiry is renewed
// by the leader, the Secret and the MutatingWebhookConfiguration's caBundle (new CA + old CA)
// follow, and the API server keeps calling the webhook over the new pair.
import { X509Certificate } from "node:crypto";
import { AdmissionregistrationV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issue } from "../../operator/webhook/certs.ts";
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
  runId,
  until,
} from "./operator-support.ts";

const kc = adminConfig();
const core = kc.makeApiClient(CoreV1Api);
const run = runId();
const namespace = `certs-${run}`;
let deployment: Deployment;
const expiring = issue({
  namespace: "",
  secretName: "",
  dnsNames: [],
  ipAddresses: ["127.0.0.1"],
  validDays: 10,
});

describe("webhook serving certificate renewal", () => {
  beforeAll(async () => {
    await installCrd(kc);
    deployment = await deployOperator(kc, run);
    // A pair that expires in 10 days, as if the operator had run for most of a year.
    await core.createNamespacedSecret({
      namespace: deployment.namespace,
      body: {
        metadata: { name: "auditready-webhook-cert" },
        data: {
          "ca.crt": Buffer.from(expiring.caBundlePem).toString("base64"),
          "tls.crt": Buffer.from(expiring.certPem).toString("base64"),
          "tls.key": Buffer.from(expiring.keyPem).toString("base64"),
        },
      },
    });
    await deployment.start("certs-a");
    await createNamespace(kc, namespace);
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      ...policyRef(namespace),
      body: policyBody("p", minimalSpec("p", `it.certs.${run}`), run),
    });
  });
  afterAll(async () => {
    await deployment?.cleanup();
  });

  it("renews the pair, trusts old and new CA in the caBundle, and keeps injecting", async () => {
    const secret = await until("renewed", async () => {
      const s = await core.readNamespacedSecret({
        namespace: deployment.namespace,
        name: "auditready-webhook-cert",
      });
      const crt = Buffer.from(s.data?.["tls.crt"] ?? "", "base64").toString();
      return crt && crt !== expiring.certPem ? s : undefined;
    });
    const leaf = new X509Certificate(
      Buffer.from(secret.data?.["tls.crt"] ?? "", "base64").toString(),
    );
    expect(Date.parse(leaf.validTo) - Date.now()).toBeGreaterThan(300 * 86_400_000);
    const bundle = Buffer.from(secret.data?.["ca.crt"] ?? "", "base64").toString();
    expect(bundle.endsWith(expiring.caBundlePem)).toBe(true);

    await until("caBundle updated", async () => {
      const mwc = await kc
        .makeApiClient(AdmissionregistrationV1Api)
        .readMutatingWebhookConfiguration({ name: deployment.names.webhookConfiguration });
      const ca = mwc.webhooks?.[0]?.clientConfig.caBundle;
      return ca && Buffer.from(ca, "base64").toString() === bundle ? true : undefined;
    });
    let n = 0;
    await until("injected over the new pair", async () => {
      const pod = await core.createNamespacedPod({
        namespace,
        body: podBody(`p-${n++}`, { app: "p" }),
      });
      return pod.metadata?.annotations?.["auditready.dev/injected"] ? true : undefined;
    });
  });
});
