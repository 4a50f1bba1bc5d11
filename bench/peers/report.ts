// The side-by-side table of `bench:peers`, from the raw results (pure, so it is tested): one
// row per phase and tool, each measure as the range over its rounds, and on each peer's row the
// ratio auditready / peer of the medians, so "what does it cost me" reads off one table.
import type { PhaseName } from "./tools.ts";

export interface Result {
  phase: PhaseName;
  tool: string;
  round: number;
  linesWritten: number;
  /** Messages in the tool's topic that are lines (auditready: `log` records). */
  delivered: number;
  /** Distinct line numbers among them (lower than delivered when lines were duplicated). */
  distinct: number;
  wallSeconds: number;
  /** CPU over the phase: from start for backlog, over the writing and delivery for steady, over the quiet period for idle. */
  cpuSeconds: number;
  /** idle: CPU from the tool's start until it settled on an empty file. */
  startupCpuSeconds: number | undefined;
  peakRssMb: number;
  peakAnonMb: number;
  peakPssMb: number;
}

export interface Machine {
  cores: number;
  cpuModel: string;
  ramGb: number;
  kernel: string;
  versions: Record<string, string>;
}

interface Measure {
  title: string;
  value: (r: Result) => number | undefined;
  format: (v: number) => string;
  /** Ratios make no sense for counts. */
  ratio: boolean;
}

const µs = (v: number) => `${v < 10 ? v.toFixed(1) : v.toFixed(0)} µs`;
const mb = (v: number) => `${v.toFixed(0)} MB`;

const MEASURES: readonly Measure[] = [
  {
    title: "lines delivered",
    value: (r) => r.delivered,
    format: (v) => v.toLocaleString("en-US"),
    ratio: false,
  },
  {
    title: "wall",
    value: (r) => (r.phase === "idle" ? undefined : r.wallSeconds),
    format: (v) => `${v.toFixed(1)} s`,
    ratio: true,
  },
  {
    title: "CPU per line",
    value: (r) => (r.phase === "idle" ? undefined : (r.cpuSeconds / r.linesWritten) * 1e6),
    format: µs,
    ratio: true,
  },
  {
    title: "CPU (share of a core)",
    value: (r) => (r.wallSeconds > 0 ? (r.cpuSeconds / r.wallSeconds) * 100 : undefined),
    format: (v) => `${v < 10 ? v.toFixed(2) : v.toFixed(0)} %`,
    ratio: true,
  },
  {
    title: "start-up CPU",
    value: (r) => r.startupCpuSeconds,
    format: (v) => `${v.toFixed(2)} s`,
    ratio: true,
  },
  { title: "peak RSS", value: (r) => r.peakRssMb, format: mb, ratio: true },
  { title: "peak anonymous", value: (r) => r.peakAnonMb, format: mb, ratio: true },
  { title: "peak PSS", value: (r) => r.peakPssMb, format: mb, ratio: true },
];

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function range(values: readonly number[], format: (v: number) => string): string {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return format(lo) === format(hi) ? format(lo) : `${format(lo)} – ${format(hi)}`;
}

function ratio(a: number, b: number): string {
  // Below the measure's resolution (a CPU tick is 10 ms): no ratio to give.
  if (b === 0) return a === 0 ? "1.0×" : "n/a (peer 0)";
  const r = a / b;
  return `${r < 10 ? r.toFixed(1) : r.toFixed(0)}×`;
}

/** One markdown table: rows phase × tool in the order met, auditready first in each phase. */
export function table(results: readonly Result[], reference: string): string {
  const phases = [...new Set(results.map((r) => r.phase))];
  const header = ["phase", "tool", ...MEASURES.map((m) => m.title)];
  const lines = [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`];
  for (const phase of phases) {
    const inPhase = results.filter((r) => r.phase === phase);
    const tools = [...new Set(inPhase.map((r) => r.tool))].sort(
      (a, b) => Number(b === reference) - Number(a === reference),
    );
    const ref = inPhase.filter((r) => r.tool === reference);
    for (const tool of tools) {
      const rows = inPhase.filter((r) => r.tool === tool);
      const written = Math.max(...rows.map((r) => r.linesWritten));
      const cells = MEASURES.map((m) => {
        const values = rows.map(m.value).filter((v) => v !== undefined);
        if (values.length === 0) return "—";
        let cell = range(values, m.format);
        if (m.title === "lines delivered") {
          cell += ` of ${written.toLocaleString("en-US")}`;
          const dups = rows.some((r) => r.distinct < r.delivered);
          if (dups)
            cell += ` (distinct ${range(
              rows.map((r) => r.distinct),
              m.format,
            )})`;
        }
        const refValues = ref.map(m.value).filter((v) => v !== undefined);
        if (m.ratio && tool !== reference && refValues.length > 0)
          cell += ` · **${ratio(median(refValues), median(values))}**`;
        return cell;
      });
      const n = rows.length;
      lines.push(`| ${phase} | ${tool} (${n} round${n > 1 ? "s" : ""}) | ${cells.join(" | ")} |`);
    }
  }
  return lines.join("\n");
}

export function machineHeader(m: Machine): string {
  const versions = Object.entries(m.versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  return `Machine: ${m.cores} cores (${m.cpuModel}), ${m.ramGb.toFixed(1)} GB RAM, Linux ${m.kernel}\nVersions: ${versions}`;
}
