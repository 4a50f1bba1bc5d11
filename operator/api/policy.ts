// The AuditPolicy resource (auditready.dev/v1alpha1): the one source of its shape. The operator
// parses what it reads with these schemas, and crds/ is generated from them
// (generate-crd.ts), so `kubectl explain` and the API server's validation say what this file
// says. Rules zod checks with code (regex validity, cross-field checks) are mirrored as CEL
// rules in `x-kubernetes-validations` where the API server can check them too.
import { z } from "zod";
import {
  AuditField,
  ExcludeRule,
  LineFormat,
  Placeholders,
  PolicyRegex,
  RedactRule,
  TrustedProxies,
} from "../../entry/normalize/options.ts";
import { HeartbeatSeconds, SealEvery, SigningMode } from "../../entry/signing.ts";

export const GROUP = "auditready.dev";
export const VERSION = "v1alpha1";
export const KIND = "AuditPolicy";
export const PLURAL = "auditpolicies";
export const SINGULAR = "auditpolicy";
export const API_VERSION = `${GROUP}/${VERSION}`;
// What image/build.sh builds: package.json's name and version (test/unit/image-refs.test.ts).
export const DEFAULT_SIDECAR_IMAGE = "auditready:0.1.0";

const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS label (lowercase, digits, '-')")
  .max(63);
const absoluteGlob = z
  .string()
  .min(2)
  .max(1024)
  .startsWith("/", "must be an absolute path")
  .meta({
    "x-kubernetes-validations": [
      { rule: "self.startsWith('/')", message: "must be an absolute path" },
      {
        rule: "!self.contains('/../')",
        message: "must not contain '..' segments",
      },
    ],
  });
const quantity = z
  .string()
  .regex(/^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$/, {
    message: "must be a Kubernetes quantity such as 100m, 64Mi or 1",
  });

export const LabelSelectorRequirement = z
  .object({
    key: z.string().min(1).describe("The label key the requirement applies to."),
    operator: z
      .enum(["In", "NotIn", "Exists", "DoesNotExist"])
      .describe("How the key relates to the values."),
    values: z
      .array(z.string().max(63))
      .max(64)
      .optional()
      .describe("Values for In / NotIn; must be empty for Exists / DoesNotExist."),
  })
  .strict()
  .superRefine((r, ctx) => {
    const needsValues = r.operator === "In" || r.operator === "NotIn";
    if (needsValues !== (r.values !== undefined && r.values.length > 0)) {
      ctx.addIssue({
        code: "custom",
        path: ["values"],
        message: needsValues ? `${r.operator} needs values` : `${r.operator} takes no values`,
      });
    }
  })
  .meta({
    "x-kubernetes-validations": [
      {
        rule: "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",
        message: "values must be set for In and NotIn, and only for them",
        fieldPath: ".values",
      },
    ],
  });

export const LabelSelector = z
  .object({
    matchLabels: z
      .record(z.string(), z.string())
      .optional()
      .describe("Pods whose labels include all of these key/value pairs."),
    matchExpressions: z
      .array(LabelSelectorRequirement)
      .max(16)
      .optional()
      .describe("Set-based requirements, all of which must hold."),
  })
  .strict();
export type LabelSelector = z.infer<typeof LabelSelector>;

const Source = z
  .object({
    paths: z
      .array(absoluteGlob)
      .min(1)
      .max(16)
      .describe(
        "Glob patterns of the access log files inside the app containers, e.g. /var/log/app/access*.log. The directory of each pattern becomes a shared emptyDir volume, mounted at that path in the selected app containers and in the sidecar.",
      ),
    format: LineFormat,
    pattern: PolicyRegex.optional().describe(
      "For format regex only: the expression, with named groups (RE2 / JavaScript syntax; a leading (?i) is accepted).",
    ),
    fields: z
      .partialRecord(AuditField, z.string().min(1))
      .optional()
      .describe(
        "Where each audit field is found: a dotted path with [n] for an array element (json, e.g. request.headers.User-Agent[0]), a key (logfmt) or a group name (regex). combined, common and the presets have a mapping that this overrides field by field.",
      ),
    placeholders: Placeholders.optional().describe(
      'Values that mean "none", compared whole after trimming (default -, (null), <nil>, null, undefined): a field holding one is absent, and a required one is flagged as missing with the placeholder named. Empty and blank values always count as absent.',
    ),
    trustedProxies: TrustedProxies.optional().meta({
      "x-kubernetes-validations": [
        {
          rule: "has(self.cidrs) != has(self.hops)",
          message: "give exactly one of cidrs or hops",
        },
      ],
    }),
    maxLineBytes: z
      .number()
      .int()
      .min(256)
      .max(1_048_576)
      .optional()
      .describe("Longer lines are truncated in the record and flagged (default 16384)."),
  })
  .strict()
  .superRefine((s, ctx) => {
    if ((s.format === "regex") !== (s.pattern !== undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["pattern"],
        message: "pattern is required for format regex and only allowed with it",
      });
    }
  })
  .meta({
    "x-kubernetes-validations": [
      {
        rule: "(self.format == 'regex') == has(self.pattern)",
        message: "pattern is required for format regex and only allowed with it",
        fieldPath: ".pattern",
      },
    ],
  });

const KafkaSinkSpec = z
  .object({
    brokers: z
      .array(z.string().regex(/^[^\s:]+:\d+$/, "must be host:port"))
      .min(1)
      .describe("Bootstrap brokers as host:port."),
    topic: z
      .string()
      .regex(/^[a-zA-Z0-9._-]{1,249}$/, "must be a valid Kafka topic name")
      .describe("The topic the sidecars publish to; the operator creates and configures it."),
    tlsSecret: dnsLabel
      .optional()
      .describe(
        "Secret in the policy's namespace whose ca.crt verifies the brokers; mounted into the sidecar, which then connects with TLS.",
      ),
    saslSecret: dnsLabel
      .optional()
      .describe("Secret in the policy's namespace with keys username and password."),
    saslMechanism: z
      .enum(["plain", "scram-sha-256", "scram-sha-512"])
      .optional()
      .describe("SASL mechanism when saslSecret is set (default scram-sha-512)."),
  })
  .strict();

export const ROLLOUT_REASONS = [
  "CreatedBeforePolicy",
  "OutdatedGeneration",
  "NotInjected",
] as const;

export const AuditPolicySpec = z
  .object({
    selector: LabelSelector.describe(
      "Which pods in the policy's namespace are covered. An empty selector selects every pod in the namespace.",
    ),
    containers: z
      .array(dnsLabel)
      .max(32)
      .optional()
      .describe(
        "App containers whose logs are shipped (default: every container of the pod). A selected pod without one of these containers cannot be injected.",
      ),
    source: Source.describe("Where the access logs are and how their lines are parsed."),
    required: z
      .array(AuditField)
      .optional()
      .describe(
        "Audit fields every record must carry; records without them are flagged, never dropped.",
      ),
    redact: z
      .array(RedactRule)
      .optional()
      .describe(
        "Redaction rules, each either {field} (a dotted path) or {pattern} (a regular expression).",
      ),
    exclude: z
      .array(ExcludeRule)
      .optional()
      .describe("Lines whose field matches the pattern are counted but not published."),
    sink: z
      .object({ kafka: KafkaSinkSpec.describe("The Kafka topic the audit records go to.") })
      .strict()
      .describe("Where records are published."),
    retention: z
      .object({
        days: z
          .number()
          .int()
          .min(1)
          .max(36_500)
          .default(400)
          .describe("How long the topic keeps records (retention.ms)."),
        replicas: z
          .number()
          .int()
          .min(1)
          .max(16)
          .default(3)
          .describe("Replication factor of the topic when the operator creates it."),
        minInSync: z
          .number()
          .int()
          .min(1)
          .max(16)
          .default(2)
          .describe("min.insync.replicas of the topic."),
      })
      .strict()
      .refine((r) => r.minInSync <= r.replicas, {
        message: "minInSync must not exceed replicas",
        path: ["minInSync"],
      })
      .meta({
        "x-kubernetes-validations": [
          {
            rule: "!has(self.minInSync) || !has(self.replicas) || self.minInSync <= self.replicas",
            message: "minInSync must not exceed replicas",
            fieldPath: ".minInSync",
          },
        ],
      })
      .prefault({})
      .describe("Retention and durability of the policy's Kafka topic."),
    signing: z
      .object({
        mode: SigningMode,
        sealEvery: SealEvery,
        heartbeatSeconds: HeartbeatSeconds,
        keyRotation: z
          .string()
          .max(63)
          .optional()
          .describe(
            "Change this value (any token, e.g. a date) to rotate the policy key; the old public key stays in status.signingKeys as retired.",
          ),
      })
      .strict()
      .prefault({})
      .describe("How records are signed."),
    enforcement: z
      .enum(["Enforce", "Audit"])
      .default("Audit")
      .describe(
        "Enforce: a selected pod that cannot be injected is rejected (and the webhook fails closed for selected pods only); Audit: it is admitted and listed in status.uncovered.",
      ),
    sidecar: z
      .object({
        image: z.string().min(1).default(DEFAULT_SIDECAR_IMAGE).describe("The sidecar image."),
        imagePullPolicy: z
          .enum(["IfNotPresent", "Always", "Never"])
          .default("IfNotPresent")
          .describe(
            "The sidecar's pull policy. Never: the image must already be on the node (imported, or pulled by another pod).",
          ),
        resources: z
          .object({
            requests: z
              .object({
                cpu: quantity.optional().describe("CPU request."),
                memory: quantity.optional().describe("Memory request."),
              })
              .strict()
              .optional()
              .describe("Resource requests of the sidecar container."),
            limits: z
              .object({
                cpu: quantity.optional().describe("CPU limit."),
                memory: quantity.optional().describe("Memory limit."),
              })
              .strict()
              .optional()
              .describe("Resource limits of the sidecar container."),
          })
          .strict()
          .optional()
          .describe("Resources of the sidecar (default requests 50m / 64Mi, limit 256Mi)."),
        native: z
          .boolean()
          .default(true)
          .describe(
            "true: a native sidecar (an init container with restartPolicy Always, Kubernetes >= 1.29), started before and stopped after the app. false: a regular container, for older servers (Jobs then do not complete on their own).",
          ),
      })
      .strict()
      .prefault({})
      .describe("The injected sidecar container."),
    rollout: z
      .object({
        restart: z
          .array(z.enum(ROLLOUT_REASONS))
          .max(3)
          .default([])
          .describe(
            "For uncovered pods with these reasons, restart the owning Deployment, StatefulSet or DaemonSet (as `kubectl rollout restart` does) once per policy generation, so new pods get the sidecar. Empty (the default): report only. Needs the operator's optional rollout RBAC.",
          ),
      })
      .strict()
      .prefault({})
      .describe("What the operator may do about pods that are not covered."),
  })
  .strict();
export type AuditPolicySpec = z.infer<typeof AuditPolicySpec>;
export type AuditPolicySpecInput = z.input<typeof AuditPolicySpec>;

export const Condition = z
  .object({
    type: z
      .enum(["Ready", "KeyReady", "TopicReady", "WebhookReady"])
      .describe("What the condition is about."),
    status: z.enum(["True", "False", "Unknown"]).describe("Whether it holds."),
    reason: z.string().min(1).describe("A CamelCase reason for the status."),
    message: z.string().describe("A human-readable explanation."),
    observedGeneration: z
      .number()
      .int()
      .optional()
      .describe("The policy generation the condition was computed for."),
    lastTransitionTime: z.string().describe("When the status last changed (RFC 3339)."),
  })
  .strict();
export type Condition = z.infer<typeof Condition>;

export const UNCOVERED_REASONS = [
  "CreatedBeforePolicy",
  "OutdatedGeneration",
  "NotInjected",
  "OptedOut",
  "SidecarNotReady",
  "ConflictingPolicy",
  "SidecarMismatch",
] as const;

export const UncoveredPod = z
  .object({
    pod: z.string().describe("The pod's name."),
    reason: z.enum(UNCOVERED_REASONS).describe("Why the pod is not covered."),
    message: z.string().optional().describe("Details."),
  })
  .strict();
export type UncoveredPod = z.infer<typeof UncoveredPod>;

export const SigningKeyStatus = z
  .object({
    keyId: z.string().describe("Key id: hex of the first 8 bytes of SHA-256(0x01 || public key)."),
    publicKey: z.string().describe("The raw 32-byte Ed25519 public key, base64."),
    notBefore: z.string().describe("When the key became current (RFC 3339)."),
    notAfter: z
      .string()
      .optional()
      .describe("When the key was retired (RFC 3339); absent for the current key."),
  })
  .strict();
export type SigningKeyStatus = z.infer<typeof SigningKeyStatus>;

export const AuditPolicyStatus = z
  .object({
    observedGeneration: z
      .number()
      .int()
      .optional()
      .describe("The generation of the spec this status describes."),
    conditions: z
      .array(Condition)
      .optional()
      .describe("Ready, KeyReady, TopicReady and WebhookReady.")
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] }),
    matchedPods: z.number().int().optional().describe("Pods the selector matches."),
    injectedPods: z
      .number()
      .int()
      .optional()
      .describe("Matched pods injected with the current policy generation."),
    readyPods: z
      .number()
      .int()
      .optional()
      .describe("Injected pods whose sidecar container is ready."),
    coverage: z.string().optional().describe('readyPods/matchedPods, e.g. "11/12".'),
    uncovered: z
      .array(UncoveredPod)
      .optional()
      .describe("Matched pods without a working sidecar, with the reason (at most 100 listed)."),
    topic: z.string().optional().describe("The Kafka topic records go to."),
    signingKeys: z
      .array(SigningKeyStatus)
      .optional()
      .describe("The current policy public key first, then retired keys, newest first."),
    publicKeysConfigMap: z
      .string()
      .optional()
      .describe("The ConfigMap (same namespace) holding the public keys for verifiers."),
    integrity: z
      .object({
        state: z
          .string()
          .optional()
          .describe("Summary for the INTEGRITY column: Unverified, Verified or Failing."),
        lastVerified: z.string().optional().describe("When a verifier last checked the topic."),
        source: z.string().optional().describe("What it read: the topic and brokers, or a file."),
        messages: z.number().int().optional().describe("Messages it read."),
        streams: z.number().int().optional().describe("Streams (pod, container, file) it checked."),
        errors: z.number().int().optional().describe("Error findings."),
        warnings: z.number().int().optional().describe("Warning findings."),
        gaps: z.number().int().optional().describe("GAP findings: records missing or lost."),
        badSignatures: z
          .number()
          .int()
          .optional()
          .describe("BAD_SIGNATURE and UNKNOWN_KEY findings: signatures that do not verify."),
        silentStreams: z
          .number()
          .int()
          .optional()
          .describe("STALE findings: streams with no recent checkpoint that did not end."),
        message: z
          .string()
          .optional()
          .describe("One line: the error codes found and how often, or what was verified."),
        shards: z
          .record(
            z.string(),
            z
              .object({
                state: z
                  .string()
                  .optional()
                  .describe("Summary for the INTEGRITY column: Unverified, Verified or Failing."),
                lastVerified: z
                  .string()
                  .optional()
                  .describe("When a verifier last checked the topic."),
                source: z
                  .string()
                  .optional()
                  .describe("What it read: the topic and brokers, or a file."),
                messages: z.number().int().optional().describe("Messages it read."),
                streams: z
                  .number()
                  .int()
                  .optional()
                  .describe("Streams (pod, container, file) it checked."),
                errors: z.number().int().optional().describe("Error findings."),
                warnings: z.number().int().optional().describe("Warning findings."),
                gaps: z
                  .number()
                  .int()
                  .optional()
                  .describe("GAP findings: records missing or lost."),
                badSignatures: z
                  .number()
                  .int()
                  .optional()
                  .describe(
                    "BAD_SIGNATURE and UNKNOWN_KEY findings: signatures that do not verify.",
                  ),
                silentStreams: z
                  .number()
                  .int()
                  .optional()
                  .describe("STALE findings: streams with no recent checkpoint that did not end."),
                message: z
                  .string()
                  .optional()
                  .describe("One line: the error codes found and how often, or what was verified."),
              })
              .strict(),
          )
          .optional()
          .describe(
            "Per replica of a follow-mode verifier that shares the topic partitions, keyed i/n: each writes its own; the fields above sum the fresh ones.",
          ),
      })
      .strict()
      .optional()
      .describe(
        "What `auditready verify --status` last reported; the operator only initializes it and never overwrites it.",
      ),
  })
  .strict();
export type AuditPolicyStatus = z.infer<typeof AuditPolicyStatus>;

export const ObjectMeta = z
  .object({
    name: z.string(),
    namespace: z.string(),
    uid: z.string(),
    generation: z.number().int(),
    resourceVersion: z.string().optional(),
    creationTimestamp: z.union([z.string(), z.date()]).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    labels: z.record(z.string(), z.string()).optional(),
  })
  .loose();

/** An AuditPolicy as the API server returns it; spec is validated separately (parsePolicy). */
export const AuditPolicyObject = z
  .object({
    apiVersion: z.string(),
    kind: z.string(),
    metadata: ObjectMeta,
    spec: z.unknown(),
    status: z.unknown().optional(),
  })
  .loose();
export type AuditPolicyObject = z.infer<typeof AuditPolicyObject>;

/** A policy whose spec parsed: what inject and reconcile work with. */
export interface Policy {
  name: string;
  namespace: string;
  uid: string;
  generation: number;
  creationTimestamp: string;
  spec: AuditPolicySpec;
}
