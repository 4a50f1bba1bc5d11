// The floor of sealing, for bench:entry: per line, only what any implementation of this record
// must do, with Node's fastest primitives and none of the sealer's checks. Parse the line
// (JSON.parse, or the normalizer's own combined-format regex), SHA-256 of the raw line
// (`lineHash`), one JSON.stringify of the whole record (JCS order, all fields), its UTF-8 bytes
// behind the 0x00 leaf prefix, SHA-256 of those (the leaf) and one node hash (a Merkle tree of
// n leaves has n - 1 nodes), the leaf as hex for the next `prev`. No field map, no validation,
// no time normalization, no redaction or exclude filters, no checkpoints: a rate the sealer
// cannot beat. In per-entry mode an Ed25519 signature per record comes on top.
// If a target is above this floor, no sealer of this record can meet it on this runtime and
// machine; that is what the row is for.
import { hash, type KeyObject, sign } from "node:crypto";
import { COMBINED } from "../entry/normalize/access-log.ts";
import type { KubernetesIdentity } from "../entry/record.ts";

interface Fields {
  time: unknown;
  actor: unknown;
  roles: unknown;
  action: unknown;
  resource: unknown;
  status: unknown;
  ip: unknown;
  agent: unknown;
  requestId: unknown;
}

function jsonFields(raw: string): Fields {
  const o = JSON.parse(raw);
  return {
    time: o.ts,
    actor: o.user?.id,
    roles: o.user?.roles,
    action: o.method,
    resource: o.path,
    status: o.status,
    ip: o.remote_addr,
    agent: o.ua,
    requestId: o.request_id,
  };
}

function combinedFields(raw: string): Fields {
  const m = COMBINED.exec(raw);
  if (!m) throw new Error("floor: not a combined line");
  const request = m[5] ?? "";
  const a = request.indexOf(" ");
  const b = request.lastIndexOf(" ");
  return {
    time: m[4],
    actor: m[3],
    roles: [],
    action: request.slice(0, a),
    resource: request.slice(a + 1, b),
    status: Number(m[6]),
    ip: m[1],
    agent: m[9],
    requestId: null,
  };
}

/** Seals `lines` at the floor; with a key, also signs each record (per-entry mode). */
export function floorSeal(
  lines: readonly Buffer[],
  format: "json" | "combined",
  k8s: KubernetesIdentity,
  key?: KeyObject,
): number {
  const fields = format === "json" ? jsonFields : combinedFields;
  let out = Buffer.allocUnsafe(16 * 1024);
  const node = Buffer.alloc(65, 1);
  let prev: string | null = null;
  let offset = 0;
  let written = 0;
  for (let seq = 0; seq < lines.length; seq++) {
    const line = lines[seq] as Buffer;
    const raw = line.toString();
    const f = fields(raw);
    const lineHash = hash("sha256", line, "hex");
    const record: string = JSON.stringify({
      epoch: 1,
      event: {
        k8s,
        raw,
        rawTruncated: false,
        redactions: [],
        result: { outcome: "success", statusCode: f.status },
        source: { file: "/var/log/app/access.log", length: line.length, lineHash, offset },
        violations: [],
        what: { action: f.action, resource: f.resource },
        when: { time: f.time },
        where: { requestId: f.requestId, sourceIp: f.ip, userAgent: f.agent },
        who: { actor: f.actor, actorType: "user", roles: f.roles },
      },
      origin: "bench/payments/api/api/access.log",
      prev,
      seq,
      type: "log",
      v: 1,
    });
    if (out.length < 1 + 3 * record.length) out = Buffer.allocUnsafe(2 + 3 * record.length);
    out[0] = 0;
    const n: number = 1 + out.write(record, 1);
    const leaf: string = hash("sha256", out.subarray(0, n), "binary");
    node.write(leaf, 1, 32, "latin1");
    node.write(leaf, 33, 32, "latin1");
    hash("sha256", node, "binary");
    prev = Buffer.from(leaf, "latin1").toString("hex");
    if (key) sign(null, Buffer.from(`bench/payments/api\n${seq + 1}\n${prev}\n`), key);
    offset += line.length + 1;
    written += n;
  }
  return written;
}
