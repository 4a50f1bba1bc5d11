// The human summary of a verification: per stream, the verified range in the words of the
// tamper catalog ("seq a..b, time t1..t2, final k not sealed") and every finding, errors first.
import type { Finding } from "../entry/verify/findings.ts";
import type { VerifyReport } from "../entry/verify/verifier.ts";

const ORDER = { error: 0, warning: 1, info: 2 } as const;

export function describeRange(v: NonNullable<VerifyReport["streams"][number]["verified"]>): string {
  const seq = v.to >= v.from ? `seq ${v.from}..${v.to}` : "nothing verified";
  const time = v.timeFrom && v.timeTo ? `, time ${v.timeFrom}..${v.timeTo}` : "";
  const tail = v.unsealed > 0 ? `, final ${v.unsealed} not sealed` : "";
  return `${seq}${time}${tail}`;
}

function line(f: Finding): string {
  const where = [f.seq ? `seq ${f.seq[0]}..${f.seq[1]}` : "", f.position ?? ""]
    .filter(Boolean)
    .join(", ");
  return `    ${f.level.padEnd(7)} ${f.code}  ${f.message}${where ? `  [${where}]` : ""}`;
}

export function renderReport(r: VerifyReport, source: string): string {
  const out: string[] = [
    `auditready verify: ${source}: ${r.messages} message(s), ${r.streams.length} stream(s)`,
  ];
  for (const s of r.streams) {
    const errors = s.findings.some((f) => f.level === "error");
    out.push(`${errors ? "FAIL" : "ok  "} ${s.origin}`);
    out.push(
      `    verified ${s.verified ? describeRange(s.verified) : "nothing"} (${s.leaves} records, ${s.checkpoints} checkpoints)`,
    );
    for (const f of [...s.findings].sort((a, b) => ORDER[a.level] - ORDER[b.level]))
      out.push(line(f));
  }
  if (r.unplaced.length > 0) {
    out.push("messages that belong to no stream:");
    for (const f of r.unplaced) out.push(line(f));
  }
  const failed = r.streams.filter((s) => s.findings.some((f) => f.level === "error")).length;
  out.push(
    `${r.ok ? "VERIFIED" : "NOT VERIFIED"}: ${r.streams.length} stream(s), ${failed} with errors; ${r.counts.error} error(s), ${r.counts.warning} warning(s), ${r.counts.info} info`,
  );
  return out.join("\n");
}
