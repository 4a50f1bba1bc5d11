// A compromised pod on the real node: an attacker runs code in one pod's sidecar container,
// holding everything mounted into it (its projected token, the config, the operator's CA). It
// finds no policy key; the operator refuses to certify a key for another pod's stream; and what
// it can sign (its own stream, with a key certified for it) cannot pass as another pod's records
// or as a re-sealed history: `auditready verify` names each attempt.
import { beforeAll, describe, expect, it } from "vitest";
import { keyCertMessage } from "../../entry/cert.ts";
import { generateSigningKey, signingKeyFromPem } from "../../entry/keys.ts";
import type { KeyCert } from "../../entry/record.ts";
import { StreamSealer } from "../../entry/seal.ts";
import { sampleEvent } from "../../entry/verify/testing.ts";
import { endpoint } from "../infra/endpoints.ts";
import { demoDeployment, demoPolicy, topicOf } from "./demo.ts";
import {
  apply,
  ensureInstalled,
  images,
  kubectl,
  kubectlJson,
  type PodSummary,
  pods,
  until,
  verifyTopic,
} from "./support.ts";

const namespace = "e2e-attack";
const name = "victims";
const demo = {
  namespace,
  name,
  image: images().demo,
  sidecarImage: images().app,
  replicas: 2,
  brokers: [endpoint("kafkaPodBootstrap")],
};
const topic = topicOf(demo);
const selector = `app=${name}`;

// Runs inside the sidecar container (no shell there: node -e). Prints one JSON line.
const ATTACK = `
const fs = require("node:fs"); const https = require("node:https"); const crypto = require("node:crypto");
const ls = (d) => { try { return fs.readdirSync(d, { recursive: true }).map(String); } catch (e) { return [String(e.code)]; } };
const config = fs.readFileSync("/etc/auditready/config.yaml", "utf8");
const url = /url: (\\S+)/.exec(config)[1]; const serverName = (/serverName: (\\S+)/.exec(config) || [])[1];
const ca = fs.readFileSync("/etc/auditready/certify-ca.crt", "utf8");
const token = fs.readFileSync("/var/run/secrets/auditready.dev/token", "utf8").trim();
const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
const key = Buffer.from(publicKey.export({ format: "jwk" }).x, "base64url").toString("base64");
const ask = (streams) => new Promise((resolve) => {
  const req = https.request(url, { method: "POST", ca, servername: serverName,
    headers: { authorization: "Bearer " + token, "content-type": "application/json" } }, (res) => {
    let body = ""; res.on("data", (c) => (body += c)); res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
  });
  req.on("error", (e) => resolve({ status: 0, body: { error: String(e) } }));
  req.end(JSON.stringify({ key, streams }));
});
(async () => {
  const [other, own] = [JSON.parse(process.argv[1]), JSON.parse(process.argv[2])];
  const forOther = await ask([other]);
  const forOwn = await ask([own]);
  console.log(JSON.stringify({
    files: { etc: ls("/etc/auditready"), secrets: ls("/var/run/secrets") },
    forOther, forOwn, privateKey: privateKey.export({ type: "pkcs8", format: "pem" }),
  }));
})();
`;

const originOf = (p: PodSummary) => `e2e/${namespace}/${p.name}/app/var/log/app/app/access*.log`;

describe("a compromised pod on the real node", () => {
  let victim: PodSummary;
  let attacker: PodSummary;
  beforeAll(async () => {
    ensureInstalled();
    kubectl(["create", "namespace", namespace]);
    apply(demoPolicy(demo));
    await until("the policy's key, topic and webhook ready", () => {
      const conditions =
        kubectlJson<{ status?: { conditions?: { type: string; status: string }[] } }>([
          "get",
          "auditpolicy",
          name,
          "-n",
          namespace,
        ]).status?.conditions ?? [];
      return ["KeyReady", "TopicReady", "WebhookReady"].every((t) =>
        conditions.some((c) => c.type === t && c.status === "True"),
      )
        ? true
        : undefined;
    });
    apply(demoDeployment(demo));
    [attacker, victim] = await until(
      "two pods, their sidecars certified (Ready)",
      () => {
        const ps = pods(namespace, selector);
        return ps.length === 2 && ps.every((p) => p.ready)
          ? (ps as [PodSummary, PodSummary])
          : undefined;
      },
      180_000,
      1_000,
    );
  }, 240_000);

  it("holds no policy key, cannot certify another pod's stream, and what it can sign never verifies as another pod's or as a re-sealed history", async () => {
    const own = { origin: originOf(attacker), epoch: 1, container: "app" };
    const other = { origin: originOf(victim), epoch: 1, container: "app" };
    const out = JSON.parse(
      kubectl([
        "exec",
        attacker.name,
        "-n",
        namespace,
        "-c",
        "auditready-sidecar",
        "--",
        "/usr/local/bin/node",
        "-e",
        ATTACK,
        JSON.stringify(other),
        JSON.stringify(own),
      ]),
    ) as {
      files: { etc: string[]; secrets: string[] };
      forOther: { status: number; body: { error?: string } };
      forOwn: { status: number; body: { certs?: KeyCert[]; error?: string } };
      privateKey: string;
    };
    // Everything mounted into the pod: the config, the operator's CA, the token. No key.
    expect(out.files.etc.some((f) => /key/i.test(f))).toBe(false);
    expect(out.files.etc).toContain("certify-ca.crt");
    expect(out.forOther.status).toBe(403);
    expect(out.forOther.body.error).toContain(`cannot have stream ${other.origin}`);
    // Its own stream it may certify a key for: that is all a pod can sign.
    expect(out.forOwn.status, out.forOwn.body.error).toBe(200);
    const cert = out.forOwn.body.certs?.[0] as KeyCert;
    expect(cert.subject.podUid).toBe(attacker.uid);

    // With that key, a history for the victim's stream, and a re-sealed one of its own with a
    // key it made itself, published as a pod with write access to the topic could.
    const stolen = signingKeyFromPem(out.privateKey);
    const forged = (origin: string, key = stolen) => {
      const now = Date.now();
      const { sealer, out: first } = StreamSealer.open(
        { origin, key, seal: { entries: 10, millis: 1_000, heartbeatMs: 10_000 }, now: () => now },
        null,
      );
      const victimIdentity = {
        ...sampleEvent(1).k8s,
        namespace,
        pod: victim.name,
        podUid: victim.uid,
      };
      const events = [0, 1, 2].map((i) => ({
        ...sampleEvent(i),
        k8s: { ...victimIdentity, container: "app" },
      }));
      return [...first, ...events.flatMap((e) => sealer.appendLog(e)), ...sealer.flush()];
    };
    const { Kafka } = (await import("kafkajs")).default;
    const producer = new Kafka({ brokers: [endpoint("kafkaBootstrap")], logLevel: 0 }).producer();
    await producer.connect();
    try {
      const intoVictim = forged(other.origin);
      await producer.send({
        topic,
        acks: -1,
        messages: [
          ...intoVictim.map((m) => ({ key: m.key, value: m.value })),
          // Its genuine certificate, put beside the forged records.
          { key: other.origin, value: keyCertMessage(cert).value },
          // Its own stream re-sealed with a key it made itself, which nobody certified.
          ...forged(own.origin, generateSigningKey()).map((m) => ({ key: m.key, value: m.value })),
        ],
      });
    } finally {
      await producer.disconnect();
    }
    const v = verifyTopic(namespace, name, topic);
    const errorsOf = (origin: string) =>
      [
        ...new Set(
          v.streams
            .find((s) => s.origin === origin)
            ?.findings.filter((f) => f.level === "error")
            .map((f) => f.code),
        ),
      ].sort();
    // The victim's stream: a key certified for another origin, and so for none of this one.
    expect(errorsOf(other.origin)).toEqual(["UNCERTIFIED_KEY", "WRONG_ORIGIN"]);
    // The attacker's own stream re-sealed with a self-made key: nothing of it counts.
    expect(errorsOf(own.origin)).toEqual(["UNCERTIFIED_KEY"]);
    expect(v.ok).toBe(false);
  });
});
