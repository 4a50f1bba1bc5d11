import { describe, expect, it } from "vitest";
import { descendants, kbField, parseStat } from "../../bench/peers/proc.ts";
import { median, type Result, table } from "../../bench/peers/report.ts";

// A real /proc/<pid>/stat line, with a command name holding a space and a parenthesis.
const STAT =
  "4242 (rs:main Q)Reg) S 1 4242 4242 0 -1 4194368 1204 0 0 0 731 215 7 3 20 0 4 0 123456 123456789 2048 18446744073709551615";

describe("bench/peers /proc parsing", () => {
  it("reads pid, ppid and utime+stime+cutime+cstime after the last parenthesis", () => {
    expect(parseStat(STAT)).toEqual({ pid: 4242, ppid: 1, cpuTicks: 731 + 215 + 7 + 3 });
  });

  it("refuses a stat line it cannot read instead of counting NaN", () => {
    expect(() => parseStat("12 (x) S 1")).toThrow(/unreadable/);
  });

  it("reads kB fields of status and smaps_rollup, 0 when absent", () => {
    const status = "VmHWM:\t   40120 kB\nVmRSS:\t   38000 kB\nRssAnon:\t   25000 kB\n";
    expect(kbField(status, "VmHWM")).toBe(40_120);
    expect(kbField(status, "RssAnon")).toBe(25_000);
    expect(kbField("Rss:  10 kB\nPss:   7 kB\n", "Pss")).toBe(7);
    expect(kbField(status, "Pss")).toBe(0);
  });

  it("finds a tree's descendants, not its siblings", () => {
    const s = (pid: number, ppid: number) => ({ pid, ppid, cpuTicks: 0 });
    const all = [s(10, 1), s(11, 10), s(12, 11), s(20, 1), s(21, 20)];
    expect(descendants([10], all).sort()).toEqual([10, 11, 12]);
  });
});

const result = (tool: string, round: number, cpuSeconds: number, peakRssMb: number): Result => ({
  phase: "backlog",
  tool,
  round,
  linesWritten: 1_000_000,
  delivered: 1_000_000,
  distinct: 1_000_000,
  wallSeconds: 10,
  cpuSeconds,
  startupCpuSeconds: undefined,
  peakRssMb,
  peakAnonMb: peakRssMb / 2,
  peakPssMb: peakRssMb,
});

describe("bench/peers table", () => {
  it("takes the median of odd and even counts", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });

  it("puts the reference first, ranges over rounds, and ratios reference / peer of the medians", () => {
    const out = table(
      [
        result("peer", 1, 4, 40),
        result("ar", 1, 20, 140),
        result("ar", 2, 22, 150),
        result("peer", 2, 5, 42),
      ],
      "ar",
    );
    const [, , ar, peer] = out.split("\n");
    expect(ar).toContain("| backlog | ar (2 rounds) | 1,000,000 of 1,000,000 |");
    expect(ar).toContain("20 µs – 22 µs");
    // CPU per line: median 21 / 4.5 = 4.7; peak RSS: 145 / 41 = 3.5
    expect(peer).toContain("4.0 µs – 5.0 µs · **4.7×**");
    expect(peer).toContain("40 MB – 42 MB · **3.5×**");
  });

  it("shows lost lines as delivered of written and duplicates as distinct", () => {
    const lossy = { ...result("plain", 1, 4, 40), delivered: 410_000, distinct: 400_000 };
    const out = table([result("ar", 1, 20, 140), lossy], "ar");
    expect(out).toContain("410,000 of 1,000,000 (distinct 400,000)");
  });
});
