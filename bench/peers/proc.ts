// What a tool costs, read from /proc and never estimated: CPU time (utime+stime, and what its
// reaped children spent) summed over the tool's process tree, peak RSS (each process's VmHWM,
// the kernel's own high-water mark), and RssAnon and PSS sampled while it runs. The parsers are
// pure (tested with real /proc text); the sampler is the only part that reads the files.
import { readdirSync, readFileSync } from "node:fs";

export interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  cpuTicks: number;
}

/** /proc/<pid>/stat: the command (field 2) may hold spaces and parentheses, so split after the last ")". */
export function parseStat(text: string): ProcStat {
  const close = text.lastIndexOf(")");
  const pid = Number(text.slice(0, text.indexOf(" ")));
  // Fields from 3 (state) on; utime is field 14, so index 11 here.
  const f = text.slice(close + 2).split(" ");
  const n = (i: number) => Number(f[i] ?? Number.NaN);
  const cpuTicks = n(11) + n(12) + n(13) + n(14);
  if (close < 0 || !Number.isFinite(cpuTicks)) throw new Error(`unreadable stat: ${text}`);
  return { pid, ppid: n(1), cpuTicks };
}

/** A "Name:   123 kB" field of /proc/<pid>/status or smaps_rollup, in kB (0 when absent). */
export function kbField(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

/** The pids of `roots` and all their descendants, from (pid, ppid) pairs. */
export function descendants(roots: readonly number[], stats: readonly ProcStat[]): number[] {
  const children = new Map<number, number[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s.pid]);
  const seen = new Set<number>();
  const todo = [...roots];
  for (let pid = todo.pop(); pid !== undefined; pid = todo.pop()) {
    if (seen.has(pid)) continue;
    seen.add(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return [...seen];
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined; // the process exited between the listing and the read
  }
}

function allStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const text = read(`/proc/${name}/stat`);
    if (text) out.push(parseStat(text));
  }
  return out;
}

export const CLOCK_TICKS = 100; // USER_HZ: 100 on every Linux the kernel ABI promises

export interface TreeUsage {
  cpuSeconds: number;
  /** Sampled maximum of Σ VmHWM (each process's own peak) over the tree, MB. */
  peakRssMb: number;
  /** Sampled maxima of Σ RssAnon and Σ Pss over the tree, MB. */
  peakAnonMb: number;
  peakPssMb: number;
  /** Σ VmRSS, RssAnon and Pss at the last sample, MB. */
  rssMb: number;
  anonMb: number;
  pssMb: number;
}

/**
 * Samples one tool's process tree: the tree is re-listed every second (a scan of /proc), the
 * memory of its processes (status and smaps_rollup) read every `everyMs`; the cost of reading
 * is the sampler's, not the tool's. `usage()` gives the peaks since the last `resetPeaks()`.
 */
export class TreeSampler {
  private pids: number[];
  private timer: NodeJS.Timeout;
  private ticks = 0;
  private peakHwm = 0;
  private peakAnon = 0;
  private peakPss = 0;
  private last = { rss: 0, anon: 0, pss: 0 };

  /**
   * `wrapper`: the root is a shell that only waits for the tool and keeps its CPU time once the
   * tool has exited (cutime); its own memory is not the tool's and is left out.
   */
  private readonly roots: readonly number[];
  private readonly wrapper: boolean;

  constructor(roots: readonly number[], wrapper = false, everyMs = 100) {
    this.roots = roots;
    this.wrapper = wrapper;
    this.pids = descendants(roots, allStats());
    this.sample(true);
    this.timer = setInterval(() => this.sample(true), everyMs);
  }

  private sample(withPss: boolean): void {
    if (this.ticks++ % 10 === 0) this.pids = descendants(this.roots, allStats());
    let hwm = 0;
    let rss = 0;
    let anon = 0;
    let pss = 0;
    for (const pid of this.pids) {
      if (this.wrapper && this.roots.includes(pid)) continue;
      const status = read(`/proc/${pid}/status`);
      if (!status) continue;
      hwm += kbField(status, "VmHWM");
      rss += kbField(status, "VmRSS");
      anon += kbField(status, "RssAnon");
      if (withPss) pss += kbField(read(`/proc/${pid}/smaps_rollup`) ?? "", "Pss");
    }
    this.last = { rss, anon, pss: withPss ? pss : this.last.pss };
    this.peakHwm = Math.max(this.peakHwm, hwm);
    this.peakAnon = Math.max(this.peakAnon, anon);
    if (withPss) this.peakPss = Math.max(this.peakPss, pss);
  }

  /** CPU seconds the tree has used so far (including reaped children). */
  cpuSeconds(): number {
    this.pids = descendants(this.roots, allStats());
    let ticks = 0;
    for (const pid of this.pids) {
      const text = read(`/proc/${pid}/stat`);
      if (text) ticks += parseStat(text).cpuTicks;
    }
    return ticks / CLOCK_TICKS;
  }

  /** VmHWM is the kernel's peak since the process started: it is not reset. */
  resetPeaks(): void {
    this.peakAnon = 0;
    this.peakPss = 0;
    this.sample(true);
  }

  usage(): TreeUsage {
    this.sample(true);
    return {
      cpuSeconds: this.cpuSeconds(),
      peakRssMb: this.peakHwm / 1_024,
      peakAnonMb: this.peakAnon / 1_024,
      peakPssMb: this.peakPss / 1_024,
      rssMb: this.last.rss / 1_024,
      anonMb: this.last.anon / 1_024,
      pssMb: this.last.pss / 1_024,
    };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
