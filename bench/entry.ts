// `npm run bench:entry`: the signed entry's speed on one core, as ratios against references
// measured in the same run on the same lines: plain JSON.parse + JSON.stringify (what any
// shipper does at least) and raw Ed25519 signatures (the floor of per-entry signing).
// Not a test: it prints numbers and checks them against the targets of the issue.

import { sign } from "node:crypto";
import { cpus } from "node:os";
import { generateSigningKey } from "../entry/keys.ts";
import { createNormalizer } from "../entry/normalize/normalizer.ts";
import { NormalizeOptions } from "../entry/normalize/options.ts";
import type { KubernetesIdentity } from "../entry/record.ts";
import { type Emitted, StreamSealer } from "../entry/seal.ts";
import { certMessage, TestOperator } from "../entry/verify/testing.ts";
import { Verifier } from "../entry/verify/verifier.ts";
import { floorSeal } from "./entry-floor.ts";

const N = Number(process.env.BENCH_LINES ?? 200_000);
const identity: KubernetesIdentity = {
  cluster: "bench",
  namespace: "payments",
  pod: "payments-api-7d9f-abcde",
  podUid: "6f1c2a9e-0000-4000-8000-000000000001",
  container: "api",
  node: "node-1",
  serviceAccount: "payments-api",
  policy: "payments-api",
  policyGeneration: 1,
};

function jsonLines(n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      Buffer.from(
        JSON.stringify({
          ts: new Date(1_795_428_000_000 + i).toISOString(),
          user: { id: `user-${i % 977}`, roles: ["reader"] },
          method: i % 7 === 0 ? "POST" : "GET",
          path: `/api/v1/items/${i}?page=${i % 13}`,
          status: i % 50 === 0 ? 500 : 200,
          remote_addr: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
          ua: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
          request_id: `req-${i.toString(36)}`,
          bytes: 512 + (i % 1024),
        }),
      ),
    );
  }
  return out;
}

function combinedLines(n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      Buffer.from(
        `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255} - user-${i % 977} [23/Nov/2026:10:00:00 +0000] "GET /api/v1/items/${i}?page=${i % 13} HTTP/1.1" ${i % 50 === 0 ? 500 : 200} ${512 + (i % 1024)} "-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"`,
      ),
    );
  }
  return out;
}

const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));

/**
 * Runs f RUNS times and returns the best rate in operations per CPU-second of this
 * (single-threaded) process. Best of several, for every row and reference alike: on a shared
 * machine a neighbour only ever makes a run slower.
 */
function measure(ops: number, f: () => void): { perSec: number; ms: number } {
  let best = { perSec: 0, ms: 0 };
  for (let r = 0; r < RUNS; r++) {
    const run = once(ops, f);
    if (run.perSec > best.perSec) best = run;
  }
  return best;
}

function once(ops: number, f: () => void): { perSec: number; ms: number } {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  f();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { perSec: ops / ((cpu.user + cpu.system) / 1e6), ms };
}

/**
 * Like measure, for a row compared with a reference: each run of the row follows a run of the
 * reference, and the reference keeps its best rate over these runs too. On a shared machine a
 * reference measured only once, at another moment, can be slowed by a neighbour that the row
 * never saw (parse+stringify came out anywhere from 170,000 to 370,000/s on one host within
 * minutes), and the ratio with it. Both rates are bests, so the ratio is never flattered by a
 * slow reference.
 */
function measureAgainst(
  ops: number,
  f: () => void,
  ref: { perSec: number; ops: number; f: () => void },
): { perSec: number; ms: number } {
  let best = { perSec: 0, ms: 0 };
  for (let r = 0; r < RUNS; r++) {
    ref.perSec = Math.max(ref.perSec, once(ref.ops, ref.f).perSec);
    const run = once(ops, f);
    if (run.perSec > best.perSec) best = run;
  }
  return best;
}

// The operator holds the policy key and certifies the sidecar's in-memory epoch key.
const operator = new TestOperator();
const epochKey = generateSigningKey();
const ORIGIN = `bench/${identity.namespace}/${identity.pod}/${identity.container}/access.log`;

/**
 * Normalizes and seals `lines`. What the sealer emits is kept only when asked (the verify input):
 * a sidecar publishes each message and lets it go, so the timed runs do the same.
 */
function seal(
  lines: Buffer[],
  format: "json" | "combined",
  entries: number,
  keep = false,
): Emitted[] {
  const options = NormalizeOptions.parse(
    format === "json"
      ? {
          format,
          fields: {
            actor: "user.id",
            roles: "user.roles",
            action: "method",
            resource: "path",
            time: "ts",
            sourceIp: "remote_addr",
            userAgent: "ua",
            requestId: "request_id",
            statusCode: "status",
          },
          required: ["actor", "action", "resource", "time"],
        }
      : { format, required: ["actor", "action", "resource", "time"] },
  );
  const normalize = createNormalizer(options, identity);
  let t = 1_795_428_000_000;
  const { sealer, out } = StreamSealer.open(
    {
      origin: ORIGIN,
      key: epochKey,
      seal: { entries, millis: 1_000_000, heartbeatMs: 1_000_000 },
      now: () => t,
    },
    null,
  );
  out.push(certMessage(operator.certify(epochKey, ORIGIN, sealer.epoch, identity, t)));
  let offset = 0;
  let bytes = 0;
  for (const line of lines) {
    const r = normalize(line, { file: "/var/log/app/access.log", offset });
    offset += line.length + 1;
    t++;
    if (r.kind === "event")
      for (const e of sealer.appendLog(r.event)) {
        if (keep) out.push(e);
        bytes += e.value.length;
      }
  }
  for (const e of sealer.end("bench")) out.push(e);
  if (bytes === 0) throw new Error("the sealer emitted nothing");
  return out;
}

function row(name: string, perSec: number, ref: number, refName: string, target?: string): string {
  return `| ${name} | ${Math.round(perSec).toLocaleString("en-US")} /s | ${(perSec / ref).toFixed(2)}x ${refName} | ${target ?? ""} |`;
}

function main(): void {
  const json = jsonLines(N);
  const combined = combinedLines(N);
  const perEntryN = Math.min(N, 20_000);

  // Warm up every path once so the JIT has seen them.
  seal(json.slice(0, 5_000), "json", 1000);
  seal(combined.slice(0, 5_000), "combined", 1);

  const parseStringifyRun = (): void => {
    for (const l of json) JSON.stringify(JSON.parse(l.toString()));
  };
  const parseStringify = { ops: N, f: parseStringifyRun, ...measure(N, parseStringifyRun) };
  const key = generateSigningKey();
  const msg = Buffer.alloc(200, 1);
  const ed25519Run = (): void => {
    for (let i = 0; i < perEntryN; i++) sign(null, msg, key.privateKey);
  };
  const ed25519 = { ops: perEntryN, f: ed25519Run, ...measure(perEntryN, ed25519Run) };

  const sealJson = measureAgainst(
    N,
    () => {
      seal(json, "json", 1000);
    },
    parseStringify,
  );
  const sealCombined = measureAgainst(
    N,
    () => {
      seal(combined, "combined", 1000);
    },
    parseStringify,
  );
  const perEntry = measureAgainst(
    perEntryN,
    () => {
      seal(json.slice(0, perEntryN), "json", 1);
    },
    ed25519,
  );
  // The floors: what no sealer of this record can beat on this runtime (bench/entry-floor.ts).
  const floorJson = measureAgainst(N, () => floorSeal(json, "json", identity), parseStringify);
  const floorCombined = measureAgainst(
    N,
    () => floorSeal(combined, "combined", identity),
    parseStringify,
  );
  const floorPerEntry = measureAgainst(
    perEntryN,
    () => floorSeal(json.slice(0, perEntryN), "json", identity, key.privateKey),
    ed25519,
  );
  const sealed = seal(json, "json", 1000, true);
  const verify = measure(sealed.length, () => {
    const v = new Verifier({
      trustedKeys: [{ publicKey: operator.policyKey.publicKey.toString("base64") }],
    });
    let i = 0;
    for (const m of sealed) v.add({ key: m.key, value: m.value, position: String(i++) });
    const r = v.finish();
    if (!r.ok)
      throw new Error(
        `bench stream did not verify: ${JSON.stringify(r.streams[0]?.findings.slice(0, 3))}`,
      );
  });

  const cpu = cpus()[0]?.model ?? "unknown CPU";
  console.log(
    `auditready bench:entry — ${N.toLocaleString("en-US")} lines, Node ${process.version}, ${cpu}, one core (CPU time, best of ${RUNS})\n`,
  );
  console.log("| what | rate | ratio to same-run reference | target |");
  console.log("| --- | --- | --- | --- |");
  console.log(
    row(
      "reference: JSON.parse + JSON.stringify",
      parseStringify.perSec,
      parseStringify.perSec,
      "itself",
    ),
  );
  console.log(row("reference: Ed25519 sign (200 B)", ed25519.perSec, ed25519.perSec, "itself"));
  console.log(
    row(
      "normalize + canonicalize + seal, JSON lines, N=1000",
      sealJson.perSec,
      parseStringify.perSec,
      "parse+stringify",
      ">= 150,000 /s",
    ),
  );
  console.log(
    row(
      "normalize + canonicalize + seal, combined lines, N=1000",
      sealCombined.perSec,
      parseStringify.perSec,
      "parse+stringify",
      ">= 150,000 /s",
    ),
  );
  console.log(
    row(
      "per-entry mode (N=1), JSON lines",
      perEntry.perSec,
      ed25519.perSec,
      "Ed25519 sign",
      ">= 0.83x Ed25519 (within 1.2x)",
    ),
  );
  console.log(
    row(
      "floor: parse, 3 SHA-256, one stringify per record; JSON lines",
      floorJson.perSec,
      parseStringify.perSec,
      "parse+stringify",
    ),
  );
  console.log(
    row(
      "floor: the same, combined lines",
      floorCombined.perSec,
      parseStringify.perSec,
      "parse+stringify",
    ),
  );
  console.log(
    row(
      "floor: the same + an Ed25519 signature per record",
      floorPerEntry.perSec,
      ed25519.perSec,
      "Ed25519 sign",
    ),
  );
  console.log(
    row(
      "verify (messages incl. checkpoints)",
      verify.perSec,
      parseStringify.perSec,
      "parse+stringify",
      ">= 300,000 /s",
    ),
  );
  // Each target, and whether even its floor reaches it: when the floor does not, no sealer of
  // this record can, on this runtime and machine.
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  const verdicts: [string, boolean, string][] = [
    [
      "seal mode >= 150,000/s, JSON lines",
      sealJson.perSec >= 150_000,
      floorJson.perSec >= 150_000 ? "" : `its floor is ${fmt(floorJson.perSec)}/s`,
    ],
    [
      "seal mode >= 150,000/s, combined lines",
      sealCombined.perSec >= 150_000,
      floorCombined.perSec >= 150_000 ? "" : `its floor is ${fmt(floorCombined.perSec)}/s`,
    ],
    [
      "per-entry within 1.2x of Ed25519",
      perEntry.perSec * 1.2 >= ed25519.perSec,
      floorPerEntry.perSec * 1.2 >= ed25519.perSec
        ? ""
        : `its floor is ${(floorPerEntry.perSec / ed25519.perSec).toFixed(2)}x Ed25519`,
    ],
    ["verify >= 300,000/s", verify.perSec >= 300_000, ""],
  ];
  console.log("");
  for (const [what, ok, floor] of verdicts) {
    const why = !ok && floor ? ` (${floor}: out of reach for any sealer of this record here)` : "";
    console.log(`${ok ? "met    " : "NOT MET"}  ${what}${why}`);
  }
}

main();
