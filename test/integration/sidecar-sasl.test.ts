// The sidecar process over TLS + SASL on the broker's SASL_SSL listener: with a wrong password
// it keeps running, spools, says why on /readyz (503) and in one log line without the
// password; once the mounted Secret is fixed it becomes ready and everything it read arrives.
import { randomUUID } from "node:crypto";
import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { describe, expect, it } from "vitest";
import { endpoint } from "../infra/endpoints.ts";
import {
  accessLine,
  findingCodes,
  judge,
  makePod,
  readiness,
  startSidecar,
  until,
} from "./sidecar-harness.ts";

describe("sidecar over TLS + SASL", () => {
  it("reports a wrong password as not ready (no crash, nothing lost) and heals when it is fixed", async () => {
    const topic = `sasl-${randomUUID()}`;
    const admin = new Kafka({
      clientId: "sasl-test",
      brokers: [endpoint("kafkaBootstrap")],
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
    await admin.disconnect();

    const pod = await makePod("ledger");
    const usernameFile = join(pod.dir, "username");
    const passwordFile = join(pod.dir, "password");
    writeFileSync(usernameFile, endpoint("kafkaSaslUsername"));
    const wrong = `wrong-${randomUUID()}`;
    writeFileSync(passwordFile, wrong);
    pod.writeConfig({
      ...pod.config,
      sink: {
        kafka: {
          brokers: [endpoint("kafkaSaslSslBootstrap")],
          topic,
          tls: { caFile: endpoint("kafkaCaFile") },
          sasl: { mechanism: "scram-sha-256", usernameFile, passwordFile },
        },
      },
    });
    writeFileSync(pod.logFile, Array.from({ length: 300 }, (_, n) => accessLine(n)).join(""));
    const sidecar = startSidecar(pod);
    try {
      await until("not ready for the password", async () => {
        const r = await readiness(pod);
        return r?.status === 503 && JSON.stringify(r.body).includes("auth-failed");
      });
      expect(sidecar.child.exitCode).toBeNull(); // still running: no crash loop
      appendFileSync(
        pod.logFile,
        Array.from({ length: 200 }, (_, n) => accessLine(300 + n)).join(""),
      );

      writeFileSync(passwordFile, `${endpoint("kafkaSaslPassword")}\n`); // the Secret is fixed
      await until("ready", async () => (await readiness(pod))?.status === 200, 60_000);
      await until(
        "all 500 lines in the topic",
        async () =>
          (await judge(pod, { brokers: [endpoint("kafkaBootstrap")], topic })).lines.length >= 500,
        60_000,
      );
      sidecar.child.kill("SIGTERM");
      expect(await sidecar.exited).toBe(0);
    } finally {
      sidecar.child.kill("SIGKILL");
    }
    const j = await judge(pod, { brokers: [endpoint("kafkaBootstrap")], topic });
    expect(new Set(j.lines).size).toBe(500);
    expect(j.report.ok).toBe(true);
    expect(findingCodes(j.report)).toEqual([]);
    const log = sidecar.output();
    expect(log).not.toContain(wrong);
    expect(log).not.toContain(endpoint("kafkaSaslPassword"));
    const authLines = log.split("\n").filter((l) => l.includes('"kind":"auth-failed"'));
    expect(authLines).toHaveLength(1); // one clear line, not one per retry
    // Structured logs only: Node's warnings too (kafkajs' negative-timeout one is dropped).
    expect(log.split("\n").filter((l) => l !== "" && !l.startsWith("{"))).toEqual([]);
  });
});
