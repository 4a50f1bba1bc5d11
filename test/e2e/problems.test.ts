// Bad input and broken sources reach the policy's status, on the real node, never a silent hang:
// a log the sidecar may not read (the app writes it 0600) makes the sidecar not ready, the pod
// uncovered with the sidecar's own reason, and a signed gap that verify reports; a sidecar image
// the node does not have is ErrImageNeverPull on the status and in Events; a Kafka nobody
// answers at is a TopicReady=False condition with the connection error.
import { beforeAll, describe, expect, it } from "vitest";
import { endpoint } from "../infra/endpoints.ts";
import { DEMO_PORT, demoDeployment, demoPolicy, topicOf } from "./demo.ts";
import {
  apply,
  codes,
  ensureInstalled,
  get,
  images,
  kubectl,
  kubectlJson,
  pods,
  until,
  verifyTopic,
} from "./support.ts";

const namespace = "e2e-problems";

interface Status {
  coverage?: string;
  uncovered?: { pod: string; reason: string; message?: string }[];
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}
const statusOf = (name: string) =>
  kubectlJson<{ status?: Status }>(["get", "auditpolicy", name, "-n", namespace]).status ?? {};

const base = (name: string) => ({
  namespace,
  name,
  image: images().demo,
  sidecarImage: images().app,
  replicas: 1,
  brokers: [endpoint("kafkaPodBootstrap")],
  enforcement: "Audit" as const,
});

describe("problems reach the policy's status", () => {
  beforeAll(() => {
    ensureInstalled();
    kubectl(["create", "namespace", namespace]);
  });

  it("a log the sidecar may not read: not ready, uncovered with the sidecar's reason, a GAP in verify", async () => {
    const demo = { ...base("locked"), logMode: "600" };
    apply(demoPolicy(demo));
    apply(demoDeployment(demo));
    const [pod] = await until("the app running, its sidecar started", () => {
      const list = pods(namespace, "app=locked");
      return list.length === 1 && list[0]?.sidecar?.started && list[0].ip ? list : undefined;
    });
    if (!pod) throw new Error("no pod");
    // The log file is created with the first request, once the app listens (the pod is never
    // Ready: its sidecar is not).
    const answered = await until("the app answering", async () =>
      (await get(pod.ip, DEMO_PORT, "/locked/1").catch(() => 0)) === 200 ? true : undefined,
    );
    expect(answered).toBe(true);
    const uncovered = await until(
      "uncovered with the sidecar's reason",
      () => {
        const u = statusOf("locked").uncovered?.[0];
        return u?.message?.includes("not readable") ? u : undefined;
      },
      120_000,
      1_000,
      () => JSON.stringify(statusOf("locked")),
    );
    expect(uncovered).toMatchObject({ pod: pod.name, reason: "SidecarNotReady" });
    expect(uncovered.message).toContain("EACCES");
    expect(statusOf("locked").coverage).toBe("0/1");
    expect(pods(namespace, "app=locked")[0]?.sidecar?.ready).toBe(false);
    const v = await until(
      "a signed gap in the topic",
      () => {
        const r = verifyTopic(namespace, "locked", topicOf(demo));
        return codes(r, "error").includes("GAP") ? r : undefined;
      },
      60_000,
      2_000,
    );
    expect(v.exitCode).toBe(1);
    const gap = v.streams.flatMap((s) => s.findings).find((f) => f.code === "GAP");
    expect(gap?.message).toMatch(/file-unreadable/);
  });

  it("a sidecar image the node does not have: ErrImageNeverPull on the status and in Events", async () => {
    const demo = { ...base("noimage"), sidecarImage: "auditready:0.0.0-missing" };
    apply(demoPolicy(demo));
    await until("the webhook registered for it", () => {
      const c = statusOf("noimage").conditions ?? [];
      return c.some((x) => x.type === "WebhookReady" && x.status === "True") ? true : undefined;
    });
    apply(demoDeployment(demo));
    const u = await until(
      "uncovered with ErrImageNeverPull",
      () => {
        const first = statusOf("noimage").uncovered?.[0];
        return first?.message?.includes("ErrImageNeverPull") ? first : undefined;
      },
      120_000,
      1_000,
      () => JSON.stringify(statusOf("noimage")),
    );
    expect(u.reason).toBe("SidecarNotReady");
    expect(u.message).toContain("auditready:0.0.0-missing");
    const events = kubectl([
      "get",
      "events",
      "-n",
      namespace,
      "--field-selector",
      "reason=ErrImageNeverPull",
    ]);
    expect(events).toContain("auditready:0.0.0-missing");
  });

  it("a Kafka that does not answer: TopicReady False with the connection error", async () => {
    // A port on the node where nothing listens: refused at once, never sent anywhere else.
    const demo = { ...base("nokafka"), brokers: ["10.213.0.1:1"] };
    apply(demoPolicy(demo));
    const topic = await until(
      "TopicReady False",
      () => {
        const c = statusOf("nokafka").conditions?.find((x) => x.type === "TopicReady");
        return c?.status === "False" ? c : undefined;
      },
      120_000,
      1_000,
      () => JSON.stringify(statusOf("nokafka")),
    );
    expect(`${topic.reason} ${topic.message}`).toMatch(/10\.213\.0\.1:1|ECONNREFUSED|connect/i);
    const events = kubectl([
      "get",
      "events",
      "-n",
      namespace,
      "--field-selector",
      "involvedObject.name=nokafka",
    ]);
    expect(events).toMatch(/Topic/);
  });
});
