// Per-pod key certificates (issue 13): an epoch key counts only through the operator's
// certificate for this stream and pod. Includes tamper catalog row 23: a compromised pod that
// holds its own certified key, and everything else mounted into it, cannot seal for another.
import { describe, expect, it } from "vitest";
import { canonicalBytes } from "../canonical.ts";
import { StreamSealer } from "../seal.ts";
import {
  CERT_TTL_MS,
  certMessage,
  findingCodes,
  StreamBuilder,
  sampleEvent,
  verifyMessages,
} from "./testing.ts";

const A = "test/payments/api-0/api/var/log/app/access.log";
const B = "test/payments/api-1/api/var/log/app/access.log";

describe("epoch key certificates", () => {
  it("published after the records the key sealed (the operator was away), they verify all", () => {
    const b = new StreamBuilder({ certs: "later" }).logs(25);
    b.push(b.sealer.end("SIGTERM"));
    expect(findingCodes(verifyMessages(b.messages, b.trustedKeys()))).toEqual(["UNCERTIFIED_KEY"]);
    b.publishCerts();
    const r = verifyMessages(b.messages, b.trustedKeys());
    expect(findingCodes(r)).toEqual([]);
    expect(r.streams[0]?.verified).toMatchObject({ from: 0, to: 26, unsealed: 0 });
  });

  it("a key never certified seals nothing: UNCERTIFIED_KEY, nothing verified", () => {
    const b = new StreamBuilder({ certs: "never" }).logs(25);
    b.push(b.sealer.end("SIGTERM"));
    const r = verifyMessages(b.messages, b.trustedKeys());
    expect(findingCodes(r)).toEqual(["UNCERTIFIED_KEY"]);
    expect(r.ok).toBe(false);
    expect(r.streams[0]?.verified?.to).toBe(-1);
  });

  it("a rotated key needs its own certificate", () => {
    const b = new StreamBuilder().logs(10).rotateKey().logs(10);
    b.push(b.sealer.end("SIGTERM"));
    expect(findingCodes(verifyMessages(b.messages, b.trustedKeys()))).toEqual([]);
    const second = b.certs[1]?.sig;
    const without = b.messages.filter(
      (m) => m.kind !== "key-cert" || JSON.parse(m.value.toString()).cert.sig !== second,
    );
    const r = verifyMessages(without, b.trustedKeys());
    expect(findingCodes(r)).toEqual(["UNCERTIFIED_KEY"]);
    // Up to the key-rotate and its checkpoint (seq 11, signed by the first key).
    expect(r.streams[0]?.verified?.to).toBe(11);
  });

  it("checkpoints after the certificate window need the renewal: KEY_NOT_VALID without it", () => {
    const b = new StreamBuilder().logs(5);
    b.push(b.sealer.flush());
    b.clock.advance(CERT_TTL_MS - 10 * 60_000);
    b.renewCert();
    b.clock.advance(30 * 60_000);
    b.logs(10);
    b.push(b.sealer.end("SIGTERM"));
    expect(findingCodes(verifyMessages(b.messages, b.trustedKeys()))).toEqual([]);
    const renewal = b.certs[1]?.sig;
    const without = b.messages.filter(
      (m) => m.kind !== "key-cert" || JSON.parse(m.value.toString()).cert.sig !== renewal,
    );
    const r = verifyMessages(without, b.trustedKeys());
    expect(findingCodes(r)).toEqual(["KEY_NOT_VALID"]);
    expect(r.streams[0]?.verified?.to).toBe(5);
  });

  it("the trusted state keeps the current key's certificates: retention may remove their messages", () => {
    const b = new StreamBuilder().logs(20);
    const first = verifyMessages(b.messages, b.trustedKeys());
    expect(first.state.origins[b.origin]?.trees[0]?.certs).toEqual([b.certs[0]]);
    b.logs(20);
    const cut = b.messages.filter((m) => m.kind !== "key-cert" && m.seq >= 15);
    const r = verifyMessages(cut, b.trustedKeys(), {
      trustedState: first.state,
      retentionMs: 86_400_000,
      asOf: b.clock.now() + 2 * 86_400_000,
    });
    expect(findingCodes(r)).toEqual(["HEAD_TRUNCATED"]);
    expect(r.streams[0]?.verified).toMatchObject({ from: 21, to: 40 });
  });
});

describe("tamper catalog row 23: a compromised pod signs for another pod's origin", () => {
  // Pods A and B of one policy: B is compromised and holds B's certified epoch key.
  function pods() {
    const a = new StreamBuilder({ origin: A }).logs(15);
    a.push(a.sealer.end("SIGTERM"));
    const b = new StreamBuilder({ origin: B, policyKey: a.policyKey }).logs(15);
    b.push(b.sealer.end("SIGTERM"));
    return { a, b };
  }

  it("(a) B continues A's stream with B's key and B's certificate: WRONG_ORIGIN, nothing counted", () => {
    const { a, b } = pods();
    const clean = verifyMessages([...a.messages, ...b.messages], a.trustedKeys());
    expect(findingCodes(clean)).toEqual([]);
    // A's tree state is public (its leaves are in the topic): B opens a new epoch of A's tree.
    const { sealer, out } = StreamSealer.open(
      {
        origin: A,
        key: b.currentKey,
        seal: { entries: 5, millis: 1e9, heartbeatMs: 1e9 },
        now: b.clock.now,
      },
      a.sealer.state(),
    );
    const forged = [...out];
    for (let i = 0; i < 10; i++)
      forged.push(...sealer.appendLog({ ...sampleEvent(i), k8s: a.identity }));
    forged.push(...sealer.flush());
    // B's certificate, wrapped as a key-cert message of A's stream and the forged epoch.
    const cert = b.certs[0];
    if (!cert) throw new Error("no certificate");
    forged.push({
      ...certMessage(cert),
      key: A,
      value: canonicalBytes({ v: 1, type: "key-cert", origin: A, epoch: sealer.epoch, cert }),
    });
    const r = verifyMessages([...a.messages, ...b.messages, ...forged], a.trustedKeys());
    const sa = r.streams.find((s) => s.origin === A);
    expect(findingCodes(r)).toEqual(["WRONG_ORIGIN"]);
    expect(sa?.findings.map((f) => f.code)).toEqual(["WRONG_ORIGIN", "WRONG_ORIGIN"]);
    expect(sa?.verified?.to).toBe(clean.streams.find((s) => s.origin === A)?.verified?.to);
    expect(r.streams.find((s) => s.origin === B)?.findings).toEqual([]);
  });

  it("(b) B writes records in its own stream that name pod A: IDENTITY_MISMATCH, not verified", () => {
    const { a } = pods();
    const b = new StreamBuilder({
      origin: B,
      policyKey: a.policyKey,
      event: (i) => ({ ...sampleEvent(i), k8s: a.identity }),
    }).logs(15);
    b.push(b.sealer.end("SIGTERM"));
    const r = verifyMessages([...a.messages, ...b.messages], a.trustedKeys());
    expect(findingCodes(r)).toEqual(["IDENTITY_MISMATCH"]);
    const sb = r.streams.find((s) => s.origin === B);
    expect(sb?.findings[0]).toMatchObject({ code: "IDENTITY_MISMATCH", seq: [1, 15], count: 15 });
    // Only the epoch-start (seq 0) counts: the first record already names another pod.
    expect(sb?.verified?.to).toBe(0);
    expect(r.streams.find((s) => s.origin === A)?.findings).toEqual([]);
  });

  it("(b') one record in the middle naming another container stops what counts before it", () => {
    const b = new StreamBuilder({
      event: (i) => ({
        ...sampleEvent(i),
        k8s: { ...sampleEvent(i).k8s, container: i === 12 ? "sidecar" : "api" },
      }),
    }).logs(25);
    b.push(b.sealer.end("SIGTERM"));
    const r = verifyMessages(b.messages, b.trustedKeys());
    expect(findingCodes(r)).toEqual(["IDENTITY_MISMATCH"]);
    expect(r.streams[0]?.findings[0]).toMatchObject({ seq: [13, 13], count: 1 });
    expect(r.streams[0]?.verified?.to).toBe(10);
  });

  it("(c) B re-seals its own history with a key it made itself: UNCERTIFIED_KEY, nothing verified", () => {
    const { a, b } = pods();
    const resealed = new StreamBuilder({ origin: B, policyKey: a.policyKey, certs: "never" });
    resealed.logs(15).push(resealed.sealer.end("SIGTERM"));
    // The genuine certificate of B's real key is public: the attacker publishes it too.
    const certs = b.messages.filter((m) => m.kind === "key-cert");
    const r = verifyMessages([...a.messages, ...resealed.messages, ...certs], a.trustedKeys());
    expect(findingCodes(r)).toEqual(["UNCERTIFIED_KEY"]);
    expect(r.streams.find((s) => s.origin === B)?.verified?.to).toBe(-1);
  });

  describe("(d) a certificate of a deleted pod, used for the pod recreated under its name", () => {
    const OLD_UID = "00000000-0000-0000-0000-0000000000aa";
    const NEW_UID = "00000000-0000-0000-0000-0000000000bb";
    function recreated() {
      // The old pod was deleted: its sidecar sealed what it had, with no clean end.
      const old = new StreamBuilder({ origin: A, podUid: OLD_UID }).logs(12);
      old.push(old.sealer.flush());
      const now = new StreamBuilder({
        origin: A,
        podUid: NEW_UID,
        policyKey: old.policyKey,
        clock: old.clock,
      }).logs(12);
      now.push(now.sealer.end("SIGTERM"));
      return { old, now };
    }

    it("records naming the new pod sealed with the old pod's key are IDENTITY_MISMATCH", () => {
      const { old, now } = recreated();
      const clean = verifyMessages([...old.messages, ...now.messages], old.trustedKeys());
      expect(findingCodes(clean)).toEqual(["EPOCH_UNLINKED"]);
      // The old pod's key and sealer, kept by the attacker: records that claim the new pod.
      const forged = [];
      for (let i = 0; i < 8; i++)
        forged.push(...old.sealer.appendLog({ ...sampleEvent(100 + i), k8s: now.identity }));
      forged.push(...old.sealer.flush());
      const r = verifyMessages([...old.messages, ...now.messages, ...forged], old.trustedKeys());
      expect(findingCodes(r)).toEqual(["EPOCH_UNLINKED", "IDENTITY_MISMATCH"]);
      const mismatch = r.streams[0]?.findings.find((f) => f.code === "IDENTITY_MISMATCH");
      expect(mismatch?.message).toContain(`uid ${NEW_UID}`);
      expect(mismatch?.message).toContain(`uid ${OLD_UID}`);
    });

    it("the old key in a new epoch of the new pod's tree, with its old certificate, is UNCERTIFIED_KEY", () => {
      const { old, now } = recreated();
      const { sealer, out } = StreamSealer.open(
        {
          origin: A,
          key: old.currentKey,
          seal: { entries: 5, millis: 1e9, heartbeatMs: 1e9 },
          now: now.clock.now,
        },
        now.sealer.state(),
      );
      const forged = [...out];
      for (let i = 0; i < 5; i++)
        forged.push(...sealer.appendLog({ ...sampleEvent(i), k8s: now.identity }));
      const r = verifyMessages([...old.messages, ...now.messages, ...forged], old.trustedKeys());
      expect(findingCodes(r)).toEqual(["EPOCH_UNLINKED", "UNCERTIFIED_KEY"]);
      expect(r.streams[0]?.findings.find((f) => f.code === "UNCERTIFIED_KEY")?.message).toMatch(
        /certified for epoch \d+, not \d+/,
      );
    });
  });
});
