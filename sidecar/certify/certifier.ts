// Who certifies the sidecar's epoch key. In a cluster, the operator: the sidecar presents its
// pod's projected ServiceAccount token (re-read at each request: kubelet refreshes it) over
// HTTPS, trusting only the CA in its ConfigMap. Outside a cluster (the local demo, benchmarks),
// a policy key file the sidecar holds itself: never rendered by the operator.
import { readFile } from "node:fs/promises";
import { request } from "node:https";
import { certifyKey } from "../../entry/cert.ts";
import { type SigningKey, signingKeyFromPem } from "../../entry/keys.ts";
import { KeyCert } from "../../entry/record.ts";
import type { PodIdentity } from "../config/identity.ts";
import type { SidecarConfig } from "../config/schema.ts";
import { messageOf, SidecarError } from "../errors.ts";

export interface CertifyStream {
  origin: string;
  epoch: number;
  container: string;
}

export interface Certifier {
  readonly name: string;
  certify(key: SigningKey, notBefore: string, streams: CertifyStream[]): Promise<KeyCert[]>;
}

/** The config's certifier; a local policy key file is read now, so a bad one fails the start. */
export async function certifierFor(
  config: SidecarConfig,
  identity: PodIdentity,
): Promise<Certifier> {
  const s = config.signing;
  if (s.certify) return new OperatorCertifier(s.certify);
  const file = s.policyKeyFile as string;
  let policyKey: SigningKey;
  try {
    policyKey = signingKeyFromPem(await readFile(file, "utf8"));
  } catch (err) {
    throw new SidecarError("config", `policy key ${file}: ${messageOf(err)}`, { retriable: false });
  }
  return new LocalCertifier(policyKey, identity, config.policy.name);
}

const TIMEOUT_MS = 10_000;
const MAX_ANSWER = 1_048_576;

export class OperatorCertifier implements Certifier {
  readonly name = "operator";
  private readonly c: NonNullable<SidecarConfig["signing"]["certify"]>;
  constructor(c: NonNullable<SidecarConfig["signing"]["certify"]>) {
    this.c = c;
  }

  async certify(key: SigningKey, notBefore: string, streams: CertifyStream[]): Promise<KeyCert[]> {
    const [token, ca] = await Promise.all([
      readFile(this.c.tokenFile, "utf8").catch((err: unknown) => {
        throw new SidecarError("config", `token ${this.c.tokenFile}: ${messageOf(err)}`, {
          retriable: true,
        });
      }),
      readFile(this.c.caFile, "utf8").catch((err: unknown) => {
        throw new SidecarError("config", `operator CA ${this.c.caFile}: ${messageOf(err)}`, {
          retriable: true,
        });
      }),
    ]);
    const body = JSON.stringify({ key: key.publicKey.toString("base64"), notBefore, streams });
    const { status, text } = await post(this.c.url, body, token.trim(), ca, this.c.serverName);
    let answer: { certs?: unknown; error?: string };
    try {
      answer = JSON.parse(text) as typeof answer;
    } catch {
      throw new SidecarError("certify", `the operator answered ${status} with no JSON`, {
        retriable: true,
      });
    }
    if (status !== 200) {
      // 400/401/403 will not pass by waiting alone, but the pod may change (a policy, a token
      // refresh): keep asking, slowly, and say why on /readyz.
      throw new SidecarError(
        "certify",
        `the operator refused (${status}): ${answer.error ?? text}`,
        {
          retriable: status >= 500 || status === 401,
        },
      );
    }
    const certs = KeyCert.array().safeParse(answer.certs);
    if (!certs.success || certs.data.length !== streams.length)
      throw new SidecarError("certify", "the operator's answer holds no certificate per stream", {
        retriable: true,
      });
    for (const [i, c] of certs.data.entries()) {
      const s = streams[i] as CertifyStream;
      if (c.keyId !== key.keyId || c.origin !== s.origin || c.epoch !== s.epoch)
        throw new SidecarError(
          "certify",
          `the operator certified another key or stream than asked`,
          {
            retriable: true,
          },
        );
    }
    return certs.data;
  }
}

function post(
  url: string,
  body: string,
  token: string,
  ca: string,
  serverName: string | undefined,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        ca,
        ...(serverName !== undefined && { servername: serverName }),
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
        timeout: TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER) req.destroy(new Error("the operator's answer is too large"));
          else chunks.push(c);
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on("error", (err) =>
      reject(
        new SidecarError("certify", `cannot reach the operator at ${url}: ${messageOf(err)}`, {
          retriable: true,
        }),
      ),
    );
    req.end(body);
  });
}

const LOCAL_VALIDITY_MS = 365 * 86_400_000;

/** Self-certification with a policy key file: for runs outside a cluster only. */
export class LocalCertifier implements Certifier {
  readonly name = "local policy key";
  private readonly policyKey: SigningKey;
  private readonly identity: PodIdentity;
  private readonly policy: string;
  constructor(policyKey: SigningKey, identity: PodIdentity, policy: string) {
    this.policyKey = policyKey;
    this.identity = identity;
    this.policy = policy;
  }

  async certify(key: SigningKey, notBefore: string, streams: CertifyStream[]): Promise<KeyCert[]> {
    const policyKey = this.policyKey;
    const id = this.identity;
    const notAfter = new Date(Date.parse(notBefore) + LOCAL_VALIDITY_MS).toISOString();
    return streams.map((s) =>
      certifyKey(policyKey, {
        key: key.publicKey.toString("base64"),
        keyId: key.keyId,
        origin: s.origin,
        epoch: s.epoch,
        container: s.container,
        subject: {
          cluster: id.cluster,
          namespace: id.namespace,
          pod: id.pod,
          podUid: id.podUid,
          serviceAccount: id.serviceAccount,
          node: id.node,
          policy: this.policy,
        },
        notBefore,
        notAfter,
      }),
    );
  }
}
