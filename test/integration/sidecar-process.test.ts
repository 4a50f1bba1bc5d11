// The sidecar as a process with the embedded ledger sink, judged by the verifier: SIGTERM
// drains (a partial last line included) and ends the epoch; a restart links the new epoch to
// it; a wiped state volume is reported (EPOCH_UNLINKED), never silent; a file truncated while
// the sidecar was down yields a signed gap record.
import { appendFileSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DEFAULT_NODE_FLAGS } from "../../sidecar/launch.ts";
import {
  accessLine,
  findingCodes,
  judge,
  makePod,
  readiness,
  startSidecar,
  until,
} from "./sidecar-harness.ts";

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const lines = (from: number, to: number) => range(from, to).map(accessLine).join("");

describe("sidecar process (ledger sink)", () => {
  it("drains on SIGTERM with a partial last line, and links the next epoch after a restart", async () => {
    const pod = await makePod("ledger");
    writeFileSync(pod.logFile, lines(0, 1_000));
    const first = startSidecar(pod);
    try {
      await until("ready", async () => (await readiness(pod))?.status === 200);
      // main.ts re-executed itself (same pid) with the V8 heap flags.
      const argv = readFileSync(`/proc/${first.child.pid}/cmdline`, "utf8").split("\0");
      expect(argv).toEqual(expect.arrayContaining([...DEFAULT_NODE_FLAGS]));
      appendFileSync(pod.logFile, lines(1_000, 2_000));
      appendFileSync(pod.logFile, accessLine(2_000).trimEnd()); // no newline yet: still written
      first.child.kill("SIGTERM");
      expect(await first.exited).toBe(0);
    } finally {
      first.child.kill("SIGKILL");
    }
    let j = await judge(pod, { ledger: pod.ledger });
    expect(j.lines).toEqual(range(0, 2_001));
    expect(j.leafTypes.get("epoch-end")).toBe(1);
    expect(j.report.ok).toBe(true);
    expect(findingCodes(j.report)).toEqual([]);

    appendFileSync(pod.logFile, `\n${lines(2_001, 2_500)}`);
    const second = startSidecar(pod);
    try {
      await until("the new lines", async () => {
        j = await judge(pod, { ledger: pod.ledger });
        return j.lines.length >= 2_500;
      });
      second.child.kill("SIGTERM");
      expect(await second.exited).toBe(0);
    } finally {
      second.child.kill("SIGKILL");
    }
    j = await judge(pod, { ledger: pod.ledger });
    // The partial line was taken at the flush; its end arrived later as a line of its own (empty).
    expect(j.lines.filter((n) => n >= 0)).toEqual(range(0, 2_500));
    expect(j.leafTypes.get("epoch-start")).toBe(2);
    expect(j.leafTypes.get("epoch-end")).toBe(2);
    expect(j.report.ok).toBe(true);
    expect(findingCodes(j.report)).toEqual([]); // epoch 2 links to epoch 1's end
  });

  it("reports a wiped state volume as an unlinked epoch and a file truncated meanwhile as a gap", async () => {
    const pod = await makePod("ledger");
    writeFileSync(pod.logFile, lines(0, 500));
    const first = startSidecar(pod);
    try {
      await until("ready", async () => (await readiness(pod))?.status === 200);
      await until(
        "500 lines",
        async () => (await judge(pod, { ledger: pod.ledger })).lines.length === 500,
      );
      first.child.kill("SIGTERM");
      expect(await first.exited).toBe(0);
    } finally {
      first.child.kill("SIGKILL");
    }
    // While it is down: the log is truncated and rewritten (copytruncate), 200 lines unread.
    appendFileSync(pod.logFile, lines(500, 700));
    const unreadFrom = lines(0, 500).length;
    const unreadTo = lines(0, 700).length;
    truncateSync(pod.logFile, 0);
    writeFileSync(pod.logFile, lines(700, 800));
    const second = startSidecar(pod);
    try {
      await until(
        "the rewritten lines",
        async () => (await judge(pod, { ledger: pod.ledger })).lines.length === 600,
      );
      second.child.kill("SIGTERM");
      expect(await second.exited).toBe(0);
    } finally {
      second.child.kill("SIGKILL");
    }
    let j = await judge(pod, { ledger: pod.ledger });
    expect(j.gaps).toEqual([
      {
        reason: "truncated",
        lostFrom: unreadFrom,
        lostTo: expect.any(Number),
      },
    ]);
    expect(j.gaps[0]?.lostTo).toBeGreaterThanOrEqual(unreadFrom);
    expect(unreadTo).toBeGreaterThan(unreadFrom);
    expect(findingCodes(j.report)).toContain("GAP");

    rmSync(pod.stateDir, { recursive: true }); // the state volume is lost
    const third = startSidecar(pod);
    try {
      await until("ready", async () => (await readiness(pod))?.status === 200);
      third.child.kill("SIGTERM");
      expect(await third.exited).toBe(0);
    } finally {
      third.child.kill("SIGKILL");
    }
    j = await judge(pod, { ledger: pod.ledger });
    expect(findingCodes(j.report).filter((c) => c === "EPOCH_UNLINKED")).toHaveLength(1);
  });

  it("reloads a changed config: normalize in place, anything else by a drained restart", async () => {
    const pod = await makePod("ledger");
    writeFileSync(pod.logFile, lines(0, 100));
    const sidecar = startSidecar(pod);
    const metrics = async () => (await fetch(`http://127.0.0.1:${pod.port}/metrics`)).text();
    try {
      await until("ready", async () => (await readiness(pod))?.status === 200);
      await until(
        "100 lines",
        async () => (await judge(pod, { ledger: pod.ledger })).lines.length === 100,
      );
      // A new exclude rule: applied in place, the epoch goes on.
      pod.writeConfig({
        ...pod.config,
        normalize: {
          format: "combined",
          exclude: [{ field: "resource", pattern: "^/api/items/1[0-9]{2}$" }],
        },
      });
      await until("reloaded", () => sidecar.output().includes('"event":"config-reloaded"'));
      appendFileSync(pod.logFile, lines(100, 300)); // 100..199 are excluded now
      await until(
        "the lines after 200",
        async () => (await judge(pod, { ledger: pod.ledger })).lines.length === 200,
      );
      expect(await metrics()).toMatch(/auditready_records_excluded_total 100\n/);
      // A broken file is rejected and the running config stays.
      writeFileSync(pod.configPath, "version: 1\nsources: []\n");
      await until("rejected", () => sidecar.output().includes('"event":"config-rejected"'));
      // Another sink setting: a drained restart of the pipeline, resuming where it was.
      pod.writeConfig({
        ...pod.config,
        tail: { pollMs: 60, partialLineFlushMs: 400, rotateWaitMs: 500 },
      });
      await until(
        "restarted",
        () => sidecar.output().split('"event":"config-reloaded"').length === 3,
      );
      appendFileSync(pod.logFile, lines(300, 400));
      await until(
        "the last lines",
        async () => (await judge(pod, { ledger: pod.ledger })).lines.length === 300,
      );
      sidecar.child.kill("SIGTERM");
      expect(await sidecar.exited).toBe(0);
    } finally {
      sidecar.child.kill("SIGKILL");
    }
    const j = await judge(pod, { ledger: pod.ledger });
    expect(j.lines).toEqual([...range(0, 100), ...range(200, 400)]);
    expect(j.leafTypes.get("epoch-start")).toBe(2);
    expect(j.report.ok).toBe(true);
    expect(findingCodes(j.report)).toEqual([]);
  });

  it("keeps shipping with the running config when a new one cannot start", async () => {
    const pod = await makePod("ledger");
    writeFileSync(pod.logFile, lines(0, 50));
    const sidecar = startSidecar(pod);
    try {
      await until(
        "50 lines",
        async () => (await judge(pod, { ledger: pod.ledger })).lines.length === 50,
      );
      const signing = { ...pod.config.signing, policyKeyFile: `${pod.dir}/no-such-key.pem` };
      pod.writeConfig({ ...pod.config, signing });
      await until("rejected", () => sidecar.output().includes('"event":"config-rejected"'));
      appendFileSync(pod.logFile, lines(50, 100));
      await until(
        "100 lines",
        async () => (await judge(pod, { ledger: pod.ledger })).lines.length === 100,
      );
      expect((await readiness(pod))?.status).toBe(200);
      expect(sidecar.child.exitCode).toBeNull();
      sidecar.child.kill("SIGTERM");
      expect(await sidecar.exited).toBe(0);
    } finally {
      sidecar.child.kill("SIGKILL");
    }
    const j = await judge(pod, { ledger: pod.ledger });
    expect(j.lines).toEqual(range(0, 100));
    expect(j.report.ok).toBe(true);
  });
});
