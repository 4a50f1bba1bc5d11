// `auditready verify --status NAMESPACE/NAME`: the run's result, written to the AuditPolicy's
// status.integrity, so SREs read it with `kubectl get auditpolicies` (the INTEGRITY column)
// next to coverage. The operator initializes the block and never overwrites it afterwards.
// The verifier needs only `patch` on auditpolicies/status in that namespace (see the README).
import { type FindingCode, findingsIn } from "../entry/verify/findings.ts";
import type { VerifyReport } from "../entry/verify/verifier.ts";
import { type AuditPolicyStatus, GROUP, PLURAL, VERSION } from "../operator/api/policy.ts";
import { UsageError } from "./trust.ts";

export type Integrity = NonNullable<AuditPolicyStatus["integrity"]>;

export interface PolicyRef {
  namespace: string;
  name: string;
}

export function parsePolicyRef(spec: string): PolicyRef {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(spec);
  if (!m) throw new UsageError(`--status ${spec}: expected NAMESPACE/NAME of an AuditPolicy`);
  return { namespace: m[1] as string, name: m[3] as string };
}

/** The report in the status's words: counts by kind, and one line naming what failed. */
export function integrityOf(report: VerifyReport, source: string, at: Date): Integrity {
  const byCode = new Map<FindingCode, number>();
  const errorCodes = new Set<FindingCode>();
  for (const f of [...report.unplaced, ...report.streams.flatMap((s) => s.findings)]) {
    byCode.set(f.code, (byCode.get(f.code) ?? 0) + findingsIn(f));
    if (f.level === "error") errorCodes.add(f.code);
  }
  const count = (...codes: FindingCode[]) => codes.reduce((n, c) => n + (byCode.get(c) ?? 0), 0);
  return {
    state: report.ok ? "Verified" : "Failing",
    lastVerified: at.toISOString(),
    source,
    messages: report.messages,
    streams: report.streams.length,
    errors: report.counts.error,
    warnings: report.counts.warning,
    gaps: count("GAP"),
    badSignatures: count("BAD_SIGNATURE", "UNKNOWN_KEY"),
    silentStreams: count("STALE"),
    message: report.ok
      ? `${report.streams.length} stream(s) verified, ${report.counts.warning} warning(s)`
      : `errors: ${[...errorCodes]
          .sort()
          .map((c) => `${c} x${count(c)}`)
          .join(", ")}`,
  };
}

/** Merge-patches status.integrity of the policy; the rest of the status is left as it is. */
export async function writeIntegrity(
  ref: PolicyRef,
  integrity: Integrity,
  kubeconfig?: string,
): Promise<void> {
  const { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } = await import(
    "@kubernetes/client-node"
  );
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  const objects = kc.makeApiClient(CustomObjectsApi);
  const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  try {
    await objects.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace: ref.namespace,
        name: ref.name,
        body: { status: { integrity } },
      },
      merge,
    );
  } catch (err) {
    const code = (err as { code?: number }).code;
    const why =
      code === 404
        ? "no such AuditPolicy"
        : code === 403
          ? "forbidden: the verifier needs patch on auditpolicies/status in that namespace"
          : (err as Error).message;
    throw new StatusWriteError(
      `--status ${ref.namespace}/${ref.name}: could not write status.integrity: ${code === undefined ? "" : `${code} `}${why}`,
    );
  }
}

type Shard = Omit<Integrity, "shards">;

/**
 * The sum of the replicas' shards ("i/n") for the summary fields. A replica that has not
 * reported within freshMs, or at all, makes the whole Unverified: its partitions are unchecked.
 */
export function sumShards(
  shards: Record<string, Shard>,
  n: number,
  now: number,
  freshMs: number,
): Shard {
  const fresh: Shard[] = [];
  const missing: string[] = [];
  for (let i = 0; i < n; i++) {
    const s = shards[`${i}/${n}`];
    if (s?.lastVerified && now - Date.parse(s.lastVerified) <= freshMs) fresh.push(s);
    else missing.push(`${i}/${n}`);
  }
  const sum = (
    k: "messages" | "streams" | "errors" | "warnings" | "gaps" | "badSignatures" | "silentStreams",
  ) => fresh.reduce((t, s) => t + (s[k] ?? 0), 0);
  const failing = fresh.filter((s) => s.state === "Failing");
  const state = failing.length > 0 ? "Failing" : missing.length > 0 ? "Unverified" : "Verified";
  const oldest = fresh.map((s) => s.lastVerified as string).sort()[0];
  return {
    state,
    ...(oldest ? { lastVerified: oldest } : {}),
    source: fresh[0]?.source?.replace(/, partitions .*\)$/, ")") ?? "",
    messages: sum("messages"),
    streams: sum("streams"),
    errors: sum("errors"),
    warnings: sum("warnings"),
    gaps: sum("gaps"),
    badSignatures: sum("badSignatures"),
    silentStreams: sum("silentStreams"),
    message: [
      ...failing.map((s) => s.message ?? ""),
      ...(missing.length > 0 ? [`replica(s) ${missing.join(", ")} not reporting`] : []),
      ...(failing.length === 0 && missing.length === 0
        ? [`${sum("streams")} stream(s) verified by ${n} replicas, ${sum("warnings")} warning(s)`]
        : []),
    ].join("; "),
  };
}

/**
 * For replica i of n: reads the others' shards, writes its own and their sum. Two replicas
 * writing at once may each miss the other's newest shard; the next round (seconds) mends it.
 */
export async function writeShardIntegrity(
  ref: PolicyRef,
  replica: { i: number; n: number },
  mine: Integrity,
  freshMs: number,
  kubeconfig?: string,
): Promise<void> {
  const { CustomObjectsApi, KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  const current = (await kc
    .makeApiClient(CustomObjectsApi)
    .getNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace: ref.namespace,
      name: ref.name,
    })
    .catch((err: Error) => {
      throw new StatusWriteError(
        `--status ${ref.namespace}/${ref.name}: cannot read the other replicas' shards (a replica of several needs get on auditpolicies/status): ${err.message}`,
      );
    })) as { status?: AuditPolicyStatus };
  const key = `${replica.i}/${replica.n}`;
  const { shards: _ignored, ...own } = mine;
  const shards: Record<string, Shard> = {
    ...(current?.status?.integrity?.shards ?? {}),
    [key]: own,
  };
  // Shards of another replica count (a resized StatefulSet) are removed (null in a merge patch).
  const stale = Object.keys(shards).filter((k) => !k.endsWith(`/${replica.n}`));
  const total = sumShards(
    shards,
    replica.n,
    Date.parse(own.lastVerified ?? "") || Date.now(),
    freshMs,
  );
  await writeIntegrity(
    ref,
    {
      ...total,
      shards: {
        [key]: own,
        ...Object.fromEntries(stale.map((k) => [k, null])),
      } as Integrity["shards"],
    },
    kubeconfig,
  );
}

export class StatusWriteError extends Error {
  override readonly name = "StatusWriteError";
}
