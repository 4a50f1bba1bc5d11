// AdmissionReview (admission.k8s.io/v1) in and out: the only shapes the HTTPS server handles.
// Decoding validates just what the handler reads; anything else is a BadReview error value.
import type { V1Pod } from "@kubernetes/client-node";
import { z } from "zod";
import type { Decision } from "./admit.ts";

const AdmissionReview = z.object({
  apiVersion: z.literal("admission.k8s.io/v1"),
  kind: z.literal("AdmissionReview"),
  request: z.object({
    uid: z.string().min(1),
    namespace: z.string().optional(),
    operation: z.string(),
    kind: z.object({ group: z.string(), version: z.string(), kind: z.string() }),
    object: z.record(z.string(), z.unknown()).nullable().optional(),
  }),
});

export interface ReviewRequest {
  uid: string;
  namespace: string;
  operation: string;
  kind: string;
  pod: V1Pod;
}

export type Decoded =
  | { ok: true; request: ReviewRequest }
  | { ok: false; error: { kind: "BadReview"; message: string } };

export function decodeReview(body: string): Decoded {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    return {
      ok: false,
      error: { kind: "BadReview", message: `not JSON: ${(err as Error).message}` },
    };
  }
  const parsed = AdmissionReview.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      error: {
        kind: "BadReview",
        message: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
      },
    };
  }
  const r = parsed.data.request;
  return {
    ok: true,
    request: {
      uid: r.uid,
      namespace: r.namespace ?? "",
      operation: r.operation,
      kind: r.kind.kind,
      pod: (r.object ?? {}) as V1Pod,
    },
  };
}

export function encodeReview(uid: string, d: Decision): string {
  const response: Record<string, unknown> = { uid, allowed: d.allowed };
  if (d.patch.length > 0) {
    response.patchType = "JSONPatch";
    response.patch = Buffer.from(JSON.stringify(d.patch)).toString("base64");
  }
  if (!d.allowed) response.status = { code: 403, reason: "Forbidden", message: d.message ?? "" };
  if (d.warnings.length > 0) response.warnings = d.warnings;
  return JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response });
}
