// The values the API server fills into a container or volume it stores, applied to plain data,
// so a spec written by injection compares equal to the same spec read back (and to what a
// mutating webhook is shown, which is already defaulted). Only fields the API server defaults
// are filled; anything else set is kept, so a field set to another value still differs.
// Quantities are rewritten to one exact form (the API server stores "0.5" as "500m").
import type { V1Container, V1Probe, V1Volume } from "@kubernetes/client-node";

/** JSON's view of a value: no undefined members (typed clients leave them on absent fields). */
export function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value ?? null)) as T;
}

/** kubelet's default: Always for :latest or no tag, else IfNotPresent (an @digest counts as a tag). */
function defaultPullPolicy(image: string | undefined): string {
  if (image === undefined) return "IfNotPresent";
  if (image.includes("@")) return "IfNotPresent";
  const last = image.slice(image.lastIndexOf("/") + 1);
  const tag = last.includes(":") ? last.slice(last.indexOf(":") + 1) : "latest";
  return tag === "latest" ? "Always" : "IfNotPresent";
}

function probe(p: V1Probe | undefined): V1Probe | undefined {
  if (p === undefined) return undefined;
  const out: V1Probe = {
    ...p,
    timeoutSeconds: p.timeoutSeconds ?? 1,
    periodSeconds: p.periodSeconds ?? 10,
    successThreshold: p.successThreshold ?? 1,
    failureThreshold: p.failureThreshold ?? 3,
  };
  if (p.httpGet) out.httpGet = { ...p.httpGet, scheme: p.httpGet.scheme ?? "HTTP" };
  return out;
}

function quantities(m: Record<string, string> | undefined): Record<string, string> | undefined {
  if (m === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(m)
      .map(([k, v]) => [k, canonicalQuantity(v)] as const)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}

export function defaultContainer(c: V1Container): V1Container {
  const out: V1Container = plain(c);
  out.terminationMessagePath ??= "/dev/termination-log";
  out.terminationMessagePolicy ??= "File";
  out.imagePullPolicy ??= defaultPullPolicy(out.image);
  if (out.ports) out.ports = out.ports.map((p) => ({ ...p, protocol: p.protocol ?? "TCP" }));
  if (out.env) {
    out.env = out.env.map((e) =>
      e.valueFrom?.fieldRef
        ? {
            ...e,
            valueFrom: {
              ...e.valueFrom,
              fieldRef: {
                ...e.valueFrom.fieldRef,
                apiVersion: e.valueFrom.fieldRef.apiVersion ?? "v1",
              },
            },
          }
        : e,
    );
  }
  for (const k of ["startupProbe", "readinessProbe", "livenessProbe"] as const) {
    const p = probe(out[k]);
    if (p) out[k] = p;
  }
  if (out.resources) {
    const limits = quantities(out.resources.limits);
    // A limit without a request: the API server sets the request to the limit.
    const requests = quantities({ ...out.resources.limits, ...out.resources.requests });
    out.resources = {
      ...out.resources,
      ...(limits && { limits }),
      ...(requests && Object.keys(requests).length > 0 && { requests }),
    };
  }
  return plain(out);
}

export function defaultVolume(v: V1Volume): V1Volume {
  const out: V1Volume = plain(v);
  if (out.secret) out.secret.defaultMode ??= 0o644;
  if (out.configMap) out.configMap.defaultMode ??= 0o644;
  if (out.projected) {
    out.projected.defaultMode ??= 0o644;
    for (const s of out.projected.sources ?? []) {
      if (s.serviceAccountToken) s.serviceAccountToken.expirationSeconds ??= 3600;
    }
  }
  if (out.emptyDir?.sizeLimit !== undefined) {
    out.emptyDir.sizeLimit = canonicalQuantity(out.emptyDir.sizeLimit);
  }
  return out;
}

const SUFFIX: Record<string, [bigint, bigint]> = {
  "": [1n, 1n],
  m: [1n, 1000n],
  k: [1000n, 1n],
  M: [10n ** 6n, 1n],
  G: [10n ** 9n, 1n],
  T: [10n ** 12n, 1n],
  P: [10n ** 15n, 1n],
  E: [10n ** 18n, 1n],
  Ki: [1n << 10n, 1n],
  Mi: [1n << 20n, 1n],
  Gi: [1n << 30n, 1n],
  Ti: [1n << 40n, 1n],
  Pi: [1n << 50n, 1n],
  Ei: [1n << 60n, 1n],
};
const QUANTITY =
  /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E))?$/;

const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));

/**
 * One exact form of a Kubernetes quantity ("1Gi" and "1024Mi" give the same string; so do "0.5"
 * and "500m"): whole units, or milli-units with an m, or a reduced fraction. Not a quantity:
 * the text as given, so it still compares (and differs) as text.
 */
export function canonicalQuantity(q: string): string {
  const m = QUANTITY.exec(q);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) return q;
  const [, sign, whole = "", frac = "", exp, suffix = ""] = m;
  let num = BigInt(`${whole}${frac}` || "0") * (sign === "-" ? -1n : 1n);
  let den = 10n ** BigInt(frac.length);
  const [mul, div] = SUFFIX[suffix] ?? [1n, 1n];
  num *= mul;
  den *= div;
  if (exp !== undefined) {
    const e = BigInt(exp);
    if (e >= 0n) num *= 10n ** e;
    else den *= 10n ** -e;
  }
  const g = gcd(num < 0n ? -num : num, den) || 1n;
  num /= g;
  den /= g;
  if (den === 1n) return `${num}`;
  if (1000n % den === 0n) return `${num * (1000n / den)}m`;
  return `${num}/${den}`;
}
