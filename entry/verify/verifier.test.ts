import { describe, expect, it } from "vitest";
import { asInput, StreamBuilder } from "./testing.ts";
import { Verifier } from "./verifier.ts";

function verify(b: StreamBuilder, now?: number) {
  const v = new Verifier({ trustedKeys: b.trustedKeys(), ...(now === undefined ? {} : { now }) });
  for (const m of asInput(b.messages)) v.add(m);
  return v.finish();
}

describe("Verifier on an untouched stream", () => {
  it("verifies every record with no finding", () => {
    const b = new StreamBuilder().logs(95);
    b.push(b.sealer.end("SIGTERM"));
    const report = verify(b);
    expect(report.streams[0]?.findings).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.streams[0]?.verified).toMatchObject({ from: 0, to: 96, unsealed: 0 });
  });
});

describe("Verifier at volume", () => {
  it("verifies a stream longer than a call's argument limit (no spread of all leaves)", () => {
    const b = new StreamBuilder({ seal: { entries: 1000 } }).logs(150_000);
    b.push(b.sealer.end("SIGTERM"));
    const report = verify(b);
    expect(report.ok).toBe(true);
    expect(report.streams[0]?.verified).toMatchObject({ from: 0, to: 150_001, unsealed: 0 });
  }, 120_000);
});
