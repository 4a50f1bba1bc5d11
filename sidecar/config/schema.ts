// The sidecar's configuration file: the contract between the operator (which renders it from an
// AuditPolicy into a ConfigMap) and the sidecar (which validates it at start and on reload).
// Defined once, here; both sides import it. Pod identity is not in the file: it comes from
// downward-API env (see identity.ts) so one rendered file serves every pod of a policy.
import { z } from "zod";
import { NormalizeOptions } from "../../entry/normalize/options.ts";
import { HeartbeatSeconds, SealEvery, SigningMode } from "../../entry/signing.ts";
import { COMPRESSIONS } from "../sink/codecs.ts";

const filePath = z.string().min(1).startsWith("/", "must be an absolute path");

export const KafkaTls = z
  .object({
    caFile: filePath
      .optional()
      .describe(
        "PEM CA bundle that signed the brokers' certificates; the system roots when absent.",
      ),
    certFile: filePath.optional().describe("Client certificate (PEM) for mutual TLS."),
    keyFile: filePath.optional().describe("Client private key (PEM) for mutual TLS."),
    serverName: z
      .string()
      .optional()
      .describe("TLS server name to verify, when it differs from the broker host."),
  })
  .strict()
  .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
    message: "certFile and keyFile go together",
    path: ["keyFile"],
  });

export const KafkaSasl = z
  .object({
    mechanism: z.enum(["plain", "scram-sha-256", "scram-sha-512"]),
    usernameFile: filePath.describe("File holding the username (a mounted Secret key)."),
    passwordFile: filePath.describe(
      "File holding the password (a mounted Secret key); never logged.",
    ),
  })
  .strict();

export const KafkaSink = z
  .object({
    brokers: z.array(z.string().regex(/^[^\s:]+:\d+$/, "must be host:port")).min(1),
    topic: z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, "must be a valid Kafka topic name"),
    clientId: z.string().default("auditready-sidecar"),
    tls: KafkaTls.optional(),
    sasl: KafkaSasl.optional(),
    compression: z
      .enum(COMPRESSIONS)
      .default("zstd")
      .describe(
        "zstd (level 1) compresses audit records ~10x at half gzip's CPU; gzip (level 1) for consumers without zstd (kafkajs without a zstd codec).",
      ),
    batch: z
      .object({
        maxRecords: z.number().int().min(1).max(100_000).default(8_192),
        maxBytes: z
          .number()
          .int()
          .min(1_024)
          .max(64 * 1_048_576)
          .default(4 * 1_048_576)
          .describe(
            "Uncompressed bytes per batch. Compression shrinks audit records ~8-10x, under the broker's 1 MiB default; a batch the broker refuses as too large is split.",
          ),
        lingerMs: z
          .number()
          .int()
          .min(0)
          .max(10_000)
          .default(5)
          .describe(
            "How long a batch waits for more records while the sink is idle; while a batch is in flight the next one grows anyway.",
          ),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const LedgerSink = z
  .object({ path: filePath.describe("Append-only JSONL ledger that `auditready verify` reads.") })
  .strict();

export const SidecarConfig = z
  .object({
    version: z.literal(1),
    policy: z
      .object({
        name: z.string().min(1),
        namespace: z.string().min(1),
        generation: z.number().int().min(1),
      })
      .strict()
      .describe("The AuditPolicy this config was rendered from; copied into every record."),
    sources: z
      .array(
        z
          .object({
            container: z.string().min(1).describe("The app container whose log this is."),
            paths: z
              .array(filePath)
              .min(1)
              .describe("Glob patterns of the access log files, as mounted in the sidecar."),
          })
          .strict(),
      )
      .min(1),
    normalize: NormalizeOptions,
    signing: z
      .object({
        mode: SigningMode,
        sealEvery: SealEvery,
        heartbeatSeconds: HeartbeatSeconds,
        certify: z
          .object({
            url: z.string().url().describe("The operator's certify endpoint (https)."),
            serverName: z
              .string()
              .min(1)
              .optional()
              .describe(
                "The name on the operator's serving certificate, when url holds an address.",
              ),
            caFile: filePath.describe("The CA that signed the operator's serving certificate."),
            tokenFile: filePath.describe(
              "The pod's projected ServiceAccount token (audience auditready), re-read at each request.",
            ),
          })
          .strict()
          .optional()
          .describe(
            "In a cluster (what the operator renders): the epoch key is made in memory and certified by the operator for this pod only.",
          ),
        policyKeyFile: filePath
          .optional()
          .describe(
            "Outside a cluster only (the local demo, benchmarks): the sidecar certifies its own epoch key with this policy key (PKCS#8 PEM). The operator never renders it: in a cluster no pod holds a policy key.",
          ),
      })
      .strict()
      .refine(
        (s) => (s.certify !== undefined) !== (s.policyKeyFile !== undefined),
        "configure exactly one of signing.certify or signing.policyKeyFile",
      ),
    sink: z
      .object({ kafka: KafkaSink.optional(), ledger: LedgerSink.optional() })
      .strict()
      .refine(
        (s) => (s.kafka !== undefined) !== (s.ledger !== undefined),
        "configure exactly one of sink.kafka or sink.ledger",
      ),
    stateDir: filePath.describe(
      "Where offsets, tree state and epochs are kept (the shared volume).",
    ),
    spool: z
      .object({
        dir: filePath.optional().describe("Defaults to <stateDir>/spool."),
        maxBytes: z
          .number()
          .int()
          .min(1_048_576)
          .default(256 * 1_048_576),
      })
      .strict()
      .prefault({}),
    tail: z
      .object({
        partialLineFlushMs: z
          .number()
          .int()
          .min(10)
          .default(5_000)
          .describe("A last line without newline is taken after this long."),
        pollMs: z
          .number()
          .int()
          .min(10)
          .default(250)
          .describe("Safety-net poll of the files (writes also wake the reader at once)."),
        rotateWaitMs: z
          .number()
          .int()
          .min(0)
          .max(600_000)
          .default(5_000)
          .describe(
            "A rotated (renamed or deleted) file is read to its end and closed once quiet this long.",
          ),
        maxLineBytes: z
          .number()
          .int()
          .min(1_024)
          .max(16 * 1_048_576)
          .default(1_048_576)
          .describe(
            "Memory bound per line while reading: longer lines are delivered truncated with their full length and SHA-256. At least normalize.maxLineBytes.",
          ),
      })
      .strict()
      .prefault({}),
    server: z
      .object({
        port: z.number().int().min(1).max(65_535).default(9_464),
        host: z.string().default("0.0.0.0"),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.tail.maxLineBytes < c.normalize.maxLineBytes) {
      ctx.addIssue({
        code: "custom",
        path: ["tail", "maxLineBytes"],
        message: `must be at least normalize.maxLineBytes (${c.normalize.maxLineBytes})`,
      });
    }
    const batch = c.sink.kafka?.batch.maxBytes ?? 0;
    if (c.spool.maxBytes < 4 * batch) {
      ctx.addIssue({
        code: "custom",
        path: ["spool", "maxBytes"],
        message: `must be at least 4 × sink.kafka.batch.maxBytes (${4 * batch})`,
      });
    }
  });

export type SidecarConfig = z.infer<typeof SidecarConfig>;
export type SidecarConfigInput = z.input<typeof SidecarConfig>;
