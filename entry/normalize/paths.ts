// Field paths into a parsed line: dotted keys, and `[n]` for an array element, so headers that
// servers log as arrays (Caddy: "User-Agent": ["curl/8"]) are reachable as
// `request.headers.User-Agent[0]`. An exact key with dots or brackets in it wins over descending,
// as before. Paths are split once per policy, never per line.

export type Parsed = Record<string, unknown>;

/** One step of a path: an object key or an array index. */
type Step = string | number;

/** A part that ends in one or more `[digits]`: the key before them (maybe empty) and them. */
const INDEXED = /^(.*?)((?:\[\d+\])+)$/;

/** Splits `a.b[0].c` into ["a", "b", 0, "c"]; a part is a plain key unless it ends in `[n]`. */
export function parsePath(path: string): Step[] {
  const steps: Step[] = [];
  for (const part of path.split(".")) {
    const m = part.includes("[") ? INDEXED.exec(part) : null;
    if (!m) {
      steps.push(part);
      continue;
    }
    const [, key = "", indexes = ""] = m;
    if (key !== "") steps.push(key);
    for (const i of indexes.slice(1, -1).split("][")) steps.push(Number(i));
  }
  return steps;
}

function step(cur: unknown, s: Step): unknown {
  if (typeof s === "number") return Array.isArray(cur) ? cur[s] : undefined;
  if (typeof cur !== "object" || cur === null || Array.isArray(cur)) return undefined;
  return (cur as Parsed)[s];
}

function descend(values: Parsed, path: string, steps: readonly Step[]): unknown {
  if (path in values) return values[path];
  let cur: unknown = values;
  for (const s of steps) {
    cur = step(cur, s);
    if (cur === undefined) return undefined;
  }
  return cur;
}

/** A value at a path; an exact key with dots in it wins over descending. */
export function getPath(values: Parsed, path: string): unknown {
  return descend(values, path, parsePath(path));
}

/** getPath with the path split once, for paths read on every line. */
export function pathGetter(path: string): (values: Parsed) => unknown {
  const steps = parsePath(path);
  return steps.length === 1 && typeof steps[0] === "string"
    ? (values) => values[path]
    : (values) => descend(values, path, steps);
}

/** Sets a value at a path if it exists; returns whether it did. */
export function setPath(values: Parsed, path: string, value: unknown): boolean {
  if (path in values) {
    values[path] = value;
    return true;
  }
  const steps = parsePath(path);
  let cur: unknown = values;
  for (const s of steps.slice(0, -1)) {
    cur = step(cur, s);
    if (cur === undefined) return false;
  }
  const last = steps[steps.length - 1] as Step;
  if (typeof last === "number") {
    if (!Array.isArray(cur) || last >= cur.length) return false;
    cur[last] = value;
    return true;
  }
  if (typeof cur !== "object" || cur === null || Array.isArray(cur) || !(last in (cur as Parsed)))
    return false;
  (cur as Parsed)[last] = value;
  return true;
}
