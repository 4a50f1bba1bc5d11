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

export class StatusWriteError extends Error {
  override readonly name = "StatusWriteError";
}
