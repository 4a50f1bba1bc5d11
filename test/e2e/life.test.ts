// What happens to a covered workload over its life, on the real node, each event followed by
// `auditready verify` of the topic with its exact findings: pods that predate the policy (reported,
// then restarted by spec.rollout), a sidecar killed (the kubelet restarts it; UNCLEAN_END, nothing
// lost), the broker restarted under traffic (the spool holds the records), a policy edit that
// reloads in place and one that changes the pod's shape (OutdatedGeneration until a rollout), a
// rolling restart (epochs end cleanly, no GAP), and a pod deleted with a short grace period.
import { beforeAll, describe, expect, it } from "vitest";
import { endpoint } from "../infra/endpoints.ts";
import { DEMO_PORT, demoDeployment, demoPolicy, topicOf } from "./demo.ts";
import {
  apply,
  codes,
  ensureInstalled,
  get,
  images,
  killContainer,
  kubectl,
  kubectlJson,
  pods,
  readAll,
  restartKafka,
  until,
  verifyTopic,
} from "./support.ts";

const namespace = "e2e-life";
const name = "life";
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
/** Every path sent, by round; each must come back as exactly one log record. */
const sent: string[] = [];

interface Status {
  coverage?: string;
  uncovered?: { pod: string; reason: string; message?: string }[];
  observedGeneration?: number;
}
const status = () =>
  kubectlJson<{ status?: Status }>(["get", "auditpolicy", name, "-n", namespace]).status ?? {};
const describePods = () => kubectl(["describe", "pods", "-n", namespace]).slice(-5000);

function patchPolicy(patch: unknown): void {
  kubectl([
    "patch",
    "auditpolicy",
    name,
    "-n",
    namespace,
    "--type=merge",
    "-p",
    JSON.stringify(patch),
  ]);
}

async function allCovered(replicas = 2): Promise<void> {
  await until(
    `coverage ${replicas}/${replicas}`,
    () => {
      const list = pods(namespace, selector).filter((p) => p.ready && p.sidecar?.ready);
      return status().coverage === `${replicas}/${replicas}` && list.length === replicas
        ? true
        : undefined;
    },
    180_000,
    1_000,
    () => `${JSON.stringify(status())}\n${describePods()}`,
  );
}

async function traffic(round: string, perPod: number): Promise<void> {
  for (const p of pods(namespace, selector).filter((x) => x.ready)) {
    for (let i = 0; i < perPod; i++) {
      const path = `/life/${round}/${p.name}/${i}`;
      expect(await get(p.ip, DEMO_PORT, path)).toBe(200);
      sent.push(path);
    }
  }
}

/** Waits until every path sent so far is in the topic, and checks none is there twice. */
async function allRecorded(): Promise<void> {
  const resources = await until(
    `all ${sent.length} requests recorded`,
    async () => {
      const logs = (await readAll(topic))
        .filter((m) => m.value.type === "log")
        .map((m) =>
          String((m.value.event as { what?: { resource?: string } }).what?.resource ?? ""),
        )
        .filter((r) => r.startsWith("/life/"));
      return sent.every((s) => logs.includes(s)) ? logs : undefined;
    },
    90_000,
    1_000,
  );
  // Delivered at least once by design; verify reports a duplicate as DUPLICATE. Here: once.
  expect(resources.length).toBe(new Set(resources).size);
  expect(new Set(resources)).toEqual(new Set(sent));
}

describe("a covered workload's life on a real node", () => {
  beforeAll(() => {
    ensureInstalled();
    kubectl(["create", "namespace", namespace]);
  });

  it("reports pods created before the policy as uncovered, and spec.rollout restarts them into coverage", async () => {
    apply(demoDeployment(demo));
    await until("2 pods without a sidecar Ready", () => {
      const list = pods(namespace, selector);
      return list.length === 2 && list.every((p) => p.ready && !p.sidecar) ? true : undefined;
    });
    apply(demoPolicy(demo));
    await until(
      "both reported CreatedBeforePolicy",
      () => {
        const s = status();
        return s.coverage === "0/2" && s.uncovered?.every((u) => u.reason === "CreatedBeforePolicy")
          ? true
          : undefined;
      },
      60_000,
      1_000,
      () => JSON.stringify(status()),
    );
    patchPolicy({ spec: { rollout: { restart: ["CreatedBeforePolicy"] } } });
    await allCovered();
    await traffic("first", 10);
    await allRecorded();
    const v = verifyTopic(namespace, name, topic);
    expect(codes(v, "error")).toEqual([]);
    expect(v.exitCode).toBe(0);
  });

  it("restarts a killed sidecar: at most UNCLEAN_END, and no record lost", async () => {
    const [victim] = pods(namespace, selector);
    if (!victim) throw new Error("no pod");
    killContainer(namespace, victim.name, "auditready-sidecar");
    await until(
      "the sidecar restarted and Ready",
      () => {
        const p = pods(namespace, selector).find((x) => x.name === victim.name);
        return p?.sidecar && p.sidecar.restartCount >= 1 && p.sidecar.ready ? true : undefined;
      },
      120_000,
      1_000,
      describePods,
    );
    await traffic("after-kill", 10);
    await allRecorded();
    const v = verifyTopic(namespace, name, topic);
    expect(codes(v, "error")).toEqual([]);
    expect(codes(v, "warning")).toEqual(["UNCLEAN_END"]);
    const killed = v.streams.find((s) => s.origin.includes(`/${victim.name}/`));
    expect(killed?.findings.map((f) => f.code)).toContain("UNCLEAN_END");
  });

  it("keeps every record through a broker restart under traffic (the spool holds them)", async () => {
    const during = traffic("broker-restart", 15);
    await restartKafka(5_000);
    await during;
    await traffic("after-broker", 5);
    await allRecorded();
    const v = verifyTopic(namespace, name, topic);
    expect(codes(v, "error")).toEqual([]);
    expect(codes(v, "warning")).toEqual(["UNCLEAN_END"]);
  });

  it("reloads a policy edit in place, and reports a shape change OutdatedGeneration until a rollout", async () => {
    const before = pods(namespace, selector).map((p) => p.name);
    patchPolicy({ spec: { redact: [{ pattern: "secret=[^& ]+" }] } });
    await until("generation observed", () =>
      status().observedGeneration === 3 ? true : undefined,
    );
    await until(
      "a redacted record with the new generation",
      async () => {
        for (const p of pods(namespace, selector))
          await get(p.ip, DEMO_PORT, `/redact?secret=hunter2`);
        const recs = (await readAll(topic)).filter((m) => m.value.type === "log");
        return recs.some((m) => {
          const e = m.value.event as { raw?: string; k8s?: { policyGeneration?: number } };
          return (
            e.k8s?.policyGeneration === 3 &&
            e.raw?.includes("[REDACTED]") &&
            !e.raw.includes("hunter2")
          );
        })
          ? true
          : undefined;
      },
      60_000,
      2_000,
    );
    // The same pods, not restarted: the sidecar reloaded its ConfigMap.
    expect(
      pods(namespace, selector)
        .map((p) => p.name)
        .sort(),
    ).toEqual([...before].sort());
    expect(status().coverage).toBe("2/2");

    patchPolicy({ spec: { sidecar: { resources: { limits: { memory: "300Mi" } } } } });
    await until(
      "OutdatedGeneration",
      () => {
        const s = status();
        return s.coverage === "0/2" && s.uncovered?.every((u) => u.reason === "OutdatedGeneration")
          ? true
          : undefined;
      },
      60_000,
      1_000,
      () => JSON.stringify(status()),
    );
    kubectl(["rollout", "restart", `deployment/${name}`, "-n", namespace]);
    kubectl(["rollout", "status", `deployment/${name}`, "-n", namespace, "--timeout=180s"]);
    await allCovered();
    await traffic("after-rollout", 10);
    await allRecorded();
    const v = verifyTopic(namespace, name, topic);
    // The replaced pods' epochs ended cleanly on SIGTERM: no GAP, no new UNCLEAN_END.
    expect(codes(v, "error")).toEqual([]);
    expect(codes(v, "warning")).toEqual(["UNCLEAN_END"]);
  });

  it("has running sidecars' keys certified by a rotated policy key at their next renewal, verified", async () => {
    type Keys = { status?: { signingKeys?: { keyId: string }[] } };
    const keyIds = () =>
      (
        kubectlJson<Keys>(["get", "auditpolicy", name, "-n", namespace]).status?.signingKeys ?? []
      ).map((k) => k.keyId);
    const [old] = keyIds();
    const before = pods(namespace, selector)
      .map((p) => p.name)
      .sort();
    patchPolicy({ spec: { signing: { keyRotation: "e2e-rotation-1" } } });
    const current = await until("a new current key", () => {
      const [now] = keyIds();
      return now && now !== old ? now : undefined;
    });
    expect(keyIds()).toContain(old); // the retired key stays, for verifiers
    const running = pods(namespace, selector);
    // No pod holds the policy key: the operator signs each sidecar's next renewal (at two thirds
    // of the 90 s the e2e chart sets) with the new key.
    await until(
      "every running pod's stream holding a certificate signed by the new key",
      async () => {
        const certs = (await readAll(topic)).filter((m) => m.value.type === "key-cert");
        return running.every((p) =>
          certs.some((m) => {
            const r = m.value as { origin: string; cert: { policyKeyId: string } };
            return r.origin.includes(`/${p.name}/`) && r.cert.policyKeyId === current;
          }),
        )
          ? true
          : undefined;
      },
      150_000,
      2_000,
    );
    // The same pods, never restarted for it.
    expect(
      pods(namespace, selector)
        .map((p) => p.name)
        .sort(),
    ).toEqual(before);
    await traffic("after-rotation", 5);
    await allRecorded();
    const v = verifyTopic(namespace, name, topic);
    expect(codes(v, "error")).toEqual([]);
    expect(codes(v, "warning")).toEqual(["UNCLEAN_END"]);
  });

  it("keeps what a pod deleted with a short grace period had published", async () => {
    const [victim] = pods(namespace, selector);
    if (!victim) throw new Error("no pod");
    await traffic("before-delete", 10);
    await allRecorded();
    kubectl(["delete", "pod", victim.name, "-n", namespace, "--grace-period=1", "--wait=true"]);
    await allCovered();
    const v = verifyTopic(namespace, name, topic);
    expect(codes(v, "error")).toEqual([]);
    const gone = v.streams.find((s) => s.origin.includes(`/${victim.name}/`));
    // Its records were sealed before the deletion; at most the end is missing.
    for (const f of gone?.findings ?? [])
      expect(["UNCLEAN_END", "DUPLICATE", "REORDER"]).toContain(f.code);
  });
});
