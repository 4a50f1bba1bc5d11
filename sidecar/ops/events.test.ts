import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { SidecarError } from "../errors.ts";
import { Events, type SidecarEvent } from "./events.ts";
import { startOpsServer } from "./server.ts";

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).trim().split("\n"));
      done();
    },
  });
  return { lines, events: new Events({ level: "debug", destination }) };
}

const SECRET = "s3cr3t-Pa55w0rd";

describe("ops events", () => {
  it("updates the metric and logs one JSON line per event", async () => {
    const { lines, events } = capture();
    events.emit({ type: "lines-read", file: "/l/a.log", lines: 10, bytes: 1_000 });
    events.emit({ type: "data-lost", file: "/l/a.log", reason: "truncated", bytes: 42 });
    events.emit({ type: "records-published", records: 7, bytes: 700, where: "kafka" });
    const text = await events.registry.metrics();
    expect(text).toMatch(/auditready_lines_read_total 10/);
    expect(text).toMatch(/auditready_data_lost_bytes_total\{reason="truncated"\} 42/);
    expect(text).toMatch(/auditready_records_published_total\{where="kafka"\} 7/);
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[1] as string)).toMatchObject({
      event: "data-lost",
      level: 40,
      bytes: 42,
    });
  });

  it("says when a stream's saved state is unusable, and counts it as a state error", async () => {
    const { lines, events } = capture();
    events.emit({ type: "state-invalid", origin: "c/ns/p/app/a.log", reason: "prev is not hex" });
    expect(await events.registry.metrics()).toMatch(/auditready_errors_total\{kind="state"\} 1/);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      event: "state-invalid",
      level: 40,
      origin: "c/ns/p/app/a.log",
      reason: "prev is not hex",
    });
  });

  it("logs a repeating sink failure once, while counting every one", async () => {
    const { lines, events } = capture();
    const error = new SidecarError("unreachable", "broker down", { retriable: true });
    for (let i = 0; i < 5; i++)
      events.emit({ type: "sink-failed", sink: "kafka", error, spooling: true });
    expect(lines).toHaveLength(1);
    expect(await events.registry.metrics()).toMatch(
      /auditready_errors_total\{kind="unreachable"\} 5/,
    );
    expect(await events.registry.metrics()).toMatch(/auditready_sink_up 0/);
  });

  it("never writes secrets: error causes are not logged, secret-named fields are redacted", () => {
    const { lines, events } = capture();
    const cause = { sasl: { mechanism: "plain", username: "u", password: SECRET } };
    const error = new SidecarError("auth-failed", "SASL authentication failed", {
      retriable: false,
      cause,
    });
    const all: SidecarEvent[] = [
      { type: "sink-failed", sink: "kafka", error, spooling: true },
      { type: "config-rejected", error },
      { type: "state-failed", error },
      { type: "tail-error", file: "/x", error },
    ];
    for (const e of all) events.emit(e);
    events.logger.info(
      { password: SECRET, nested: { password: SECRET, sasl: cause.sasl } },
      "oops",
    );
    expect(lines.length).toBe(all.length + 1);
    expect(lines.join("\n")).not.toContain(SECRET);
  });

  it("serves /healthz, /readyz (503 with reasons when not ready) and /metrics", async () => {
    const { events } = capture();
    let ready = false;
    events.setGauges({
      lag: () => [{ file: "/l/a.log", bytes: 123 }],
      lastCheckpointAt: () => Date.now() - 2_000,
      spoolBytes: () => 4_096,
    });
    const server = await startOpsServer({
      host: "127.0.0.1",
      port: 0,
      events,
      readiness: () => ({ ready, reasons: ready ? [] : ["sink: auth-failed"] }),
    });
    const base = `http://127.0.0.1:${server.port}`;
    try {
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const notReady = await fetch(`${base}/readyz`);
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toEqual({ ready: false, reasons: ["sink: auth-failed"] });
      ready = true;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/auditready_file_lag_bytes\{file="\/l\/a.log"\} 123/);
      expect(metrics).toMatch(/auditready_spool_bytes 4096/);
      expect(metrics).toMatch(/auditready_checkpoint_age_seconds 2(\.\d+)?\n/);
      expect((await fetch(`${base}/nope`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
