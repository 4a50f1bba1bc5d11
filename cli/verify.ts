// `auditready verify`: reads a ledger file or a Kafka topic, verifies every stream against the
// trusted policy keys and this verifier's own state, prints a summary (or --json), saves the
// new state, and exits 0 only when there is no error (1 on findings, 2 on bad usage).
import { parseArgs } from "node:util";
import { defaultWitnessName } from "../entry/cosignature.ts";
import { TrustError, Verifier } from "../entry/verify/verifier.ts";
import { FOLLOW_HELP, loadWitnessKey, replicaOf, runFollow } from "./follow.ts";
import { renderReport } from "./report.ts";
import { topicRetentionMs } from "./retention.ts";
import { type KafkaSource, readLedger, readTopic } from "./sources.ts";
import { integrityOf, parsePolicyRef, writeIntegrity } from "./status.ts";
import { loadState, loadTrustedKeys, saveState, UsageError } from "./trust.ts";
import { loadWitnessKeys, readWitnessed } from "./witnessed.ts";

export const VERIFY_HELP = `Usage: auditready verify (--file LEDGER | --brokers HOST:PORT[,...] --topic TOPIC) --keys KEYS [options]

Proves from the store that no audit record was altered, dropped, reordered, replayed or forged.
Every stream (one per pod, container and log file) is rebuilt as a Merkle tree and checked
against its signed checkpoints; every finding is reported and verification carries on.

Source (one of):
  --file PATH               a JSONL ledger written by the sidecar's ledger sink
  --brokers LIST --topic T  a Kafka topic: every partition, up to the end offsets at start
      --from-time ISO       start at this time instead of the beginning of the topic
      --tls                 connect with TLS (system roots, or --tls-ca)
      --tls-ca FILE         PEM CA bundle of the brokers
      --sasl-mechanism M    plain | scram-sha-256 | scram-sha-512
      --sasl-username U
      --sasl-password-file FILE   (the password is read from a file, never from the command line)

Trust:
  --keys SPEC               trusted policy public keys: a file (JSON {"keys":[{"publicKey": base64,
                            "notBefore"?, "notAfter"?}]} or a bare array), or secret:NS/NAME or
                            configmap:NS/NAME (data key keys.json, as the operator writes it)
  --kubeconfig FILE         for secret: and configmap: (default: the usual kubeconfig lookup)
  --state FILE              this verifier's own trusted state: read if present, rewritten after
                            the run. With it, later runs detect rewritten history and go on
                            after the topic's retention removed the head.

Witness (see also --follow, below):
  --witness TOPIC           the witness topic (on --brokers): what a witness cosigned must still
                            be in the source, with the same roots, even on a first run with no
                            --state: a dropped tail or stream is a GAP, another root at a
                            cosigned size INCONSISTENT_CHECKPOINT
  --witness-keys SPEC       trusted witness public keys, as --keys; cosignatures by any other
                            key are ignored with a warning

Follow mode (the witness): --follow, see auditready verify --follow --help

Reporting:
  --status NS/NAME          write the result to that AuditPolicy's status.integrity (state
                            Verified or Failing, counts, time), read by kubectl get
                            auditpolicies; needs patch on auditpolicies/status (--kubeconfig)

Liveness:
  --as-of ISO|now           report STALE streams: no checkpoint within heartbeat + grace and
                            no clean end. Default: now for a topic, off for a file. Dates and
                            key validity are judged by this clock (default: now) in any case.
  --no-liveness             do not check liveness
  --grace SECONDS           added to each stream's heartbeat (default 60)

Output:
  --json                    the full report as JSON on stdout
  --quiet                   no progress line on stderr
  -h, --help                this text

Exit status: 0 verified with no error; 1 errors found (see the report); 2 bad usage, the
source could not be read, or --status could not be written (the report is printed first). Finding codes are listed in the README ("Verifying a topic").
`;

export async function runVerify(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      file: { type: "string" },
      brokers: { type: "string" },
      topic: { type: "string" },
      "from-time": { type: "string" },
      tls: { type: "boolean" },
      "tls-ca": { type: "string" },
      "sasl-mechanism": { type: "string" },
      "sasl-username": { type: "string" },
      "sasl-password-file": { type: "string" },
      keys: { type: "string" },
      kubeconfig: { type: "string" },
      state: { type: "string" },
      status: { type: "string" },
      "as-of": { type: "string" },
      witness: { type: "string" },
      "witness-keys": { type: "string" },
      follow: { type: "boolean" },
      "witness-key": { type: "string" },
      "witness-name": { type: "string" },
      replica: { type: "string" },
      replicas: { type: "string" },
      interval: { type: "string" },
      "status-every": { type: "string" },
      "round-messages": { type: "string" },
      "no-liveness": { type: "boolean" },
      grace: { type: "string" },
      json: { type: "boolean" },
      quiet: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(values.follow ? FOLLOW_HELP : VERIFY_HELP);
    return 0;
  }
  if (!values.keys)
    throw new UsageError("--keys is required: verification without trusted keys proves nothing");
  if (Boolean(values.file) === Boolean(values.topic))
    throw new UsageError("give exactly one source: --file, or --brokers with --topic");
  if (values.topic && !values.brokers) throw new UsageError("--topic needs --brokers");

  if (values.follow && (!values.topic || !values["witness-key"]))
    throw new UsageError("--follow needs --brokers, --topic and --witness-key");
  if (!values.follow && Boolean(values.witness) !== Boolean(values["witness-keys"]))
    throw new UsageError("--witness and --witness-keys go together");
  if (values.witness && !values.brokers) throw new UsageError("--witness needs --brokers");
  const statusRef = values.status === undefined ? undefined : parsePolicyRef(values.status);
  const trustedKeys = await loadTrustedKeys(values.keys, values.kubeconfig);
  const trustedState = values.state ? await loadState(values.state) : undefined;
  const graceSeconds = values.grace === undefined ? 60 : Number(values.grace);
  if (!Number.isFinite(graceSeconds) || graceSeconds < 0)
    throw new UsageError(`--grace ${values.grace}: not a number of seconds`);
  let now: number | undefined = values.topic ? Date.now() : undefined;
  if (values["as-of"]) now = values["as-of"] === "now" ? Date.now() : Date.parse(values["as-of"]);
  if (now !== undefined && Number.isNaN(now))
    throw new UsageError(`--as-of ${values["as-of"]}: not a time`);
  // The verifier's own clock for dates and key validity, liveness or not.
  const asOf = now;
  if (values["no-liveness"]) now = undefined;
  const fromTime = values["from-time"] === undefined ? undefined : Date.parse(values["from-time"]);
  if (fromTime !== undefined && Number.isNaN(fromTime))
    throw new UsageError(`--from-time ${values["from-time"]}: not a time`);

  // How to reach the brokers, for the source topic and the witness topic alike.
  const connection: Omit<KafkaSource, "topic"> = {
    brokers: (values.brokers ?? "").split(","),
  };
  if (values.tls || values["tls-ca"])
    connection.tls = values["tls-ca"] ? { caFile: values["tls-ca"] } : {};
  if (values["sasl-mechanism"]) {
    const mechanism = values["sasl-mechanism"];
    if (mechanism !== "plain" && mechanism !== "scram-sha-256" && mechanism !== "scram-sha-512") {
      throw new UsageError(`--sasl-mechanism ${mechanism}: plain, scram-sha-256 or scram-sha-512`);
    }
    if (!values["sasl-username"] || !values["sasl-password-file"]) {
      throw new UsageError("--sasl-mechanism needs --sasl-username and --sasl-password-file");
    }
    connection.sasl = {
      mechanism,
      username: values["sasl-username"],
      passwordFile: values["sasl-password-file"],
    };
  }

  if (values.follow) {
    const seconds = (name: string, fallback: number) => {
      const text = values[name as "interval"];
      const n = text === undefined ? fallback : Number(text);
      if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} ${text}: not a number`);
      return n;
    };
    const replicas = seconds("replicas", 1);
    if (!Number.isInteger(replicas) || replicas < 1)
      throw new UsageError(`--replicas ${values.replicas}: a whole number from 1`);
    const witnessKey = await loadWitnessKey(values["witness-key"] as string);
    const topic = values.topic as string;
    const stop = new AbortController();
    for (const sig of ["SIGTERM", "SIGINT"] as const) process.once(sig, () => stop.abort());
    return runFollow({
      source: { ...connection, topic },
      witnessTopic: values.witness ?? `${topic}.witness`,
      trustedKeys,
      witnessKey,
      witnessName: values["witness-name"] ?? defaultWitnessName(witnessKey),
      replica: replicaOf(values.replica, replicas, process.env.POD_NAME ?? process.env.HOSTNAME),
      replicas,
      graceMs: graceSeconds * 1000,
      intervalMs: seconds("interval", 5) * 1000,
      statusEveryMs: seconds("status-every", 10) * 1000,
      roundMessages: Math.max(1, seconds("round-messages", 100_000)),
      ...(statusRef
        ? {
            status: {
              ref: statusRef,
              ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
            },
          }
        : {}),
      log: (line) => {
        if (!values.quiet) process.stderr.write(`${line}\n`);
      },
      signal: stop.signal,
    });
  }

  const source = values.file ? `file ${values.file}` : `topic ${values.topic} on ${values.brokers}`;
  const src: KafkaSource | undefined = values.topic
    ? { ...connection, topic: values.topic }
    : undefined;
  if (src && fromTime !== undefined) src.fromTime = fromTime;
  // What may excuse records a trusted state proves existed: the topic's own retention.ms (read
  // from the broker, never assumed) and a chosen --from-time, whichever reaches later.
  const read = src ? await topicRetentionMs(src) : undefined;
  if (read?.problem && values.state && !values.quiet)
    process.stderr.write(
      `verify: cannot read retention.ms of ${values.topic} (${read.problem}): nothing missing is excused by retention\n`,
    );
  const retention = read?.ms;
  const horizons = [
    retention,
    fromTime !== undefined && asOf !== undefined ? Math.max(0, asOf - fromTime) : undefined,
  ].filter((h): h is number => h !== undefined);
  const horizon = horizons.length > 0 ? { retentionMs: Math.min(...horizons) } : {};

  const witnessKeys = values["witness-keys"]
    ? await loadWitnessKeys(values["witness-keys"], values.kubeconfig)
    : undefined;
  let witnessed: Awaited<ReturnType<typeof readWitnessed>> | undefined;
  if (values.witness && witnessKeys) {
    const topic = values.witness;
    try {
      witnessed = await readWitnessed({ ...connection, topic }, witnessKeys, (w) =>
        process.stderr.write(`auditready: warning: ${w}\n`),
      );
    } catch (err) {
      throw new UsageError(`reading witness topic ${topic}: ${(err as Error).message}`);
    }
  }

  let verifier: Verifier;
  try {
    verifier = new Verifier({
      trustedKeys,
      graceMs: graceSeconds * 1000,
      ...(trustedState ? { trustedState } : {}),
      ...(now === undefined ? {} : { now }),
      ...(asOf === undefined ? {} : { asOf }),
      ...horizon,
      ...(witnessed ? { witnessed } : {}),
    });
  } catch (err) {
    if (err instanceof TrustError) throw new UsageError(err.message);
    throw err;
  }

  const started = Date.now();
  let lastProgress = 0;
  const progress = (read: number, total: number | undefined) => {
    if (values.quiet || Date.now() - lastProgress < 1000) return;
    lastProgress = Date.now();
    const rate = Math.round(read / Math.max(0.001, (Date.now() - started) / 1000));
    process.stderr.write(`\rverify: ${read}${total ? `/${total}` : ""} messages, ${rate}/s   `);
  };
  const messages = src ? readTopic(src, progress) : readLedger(values.file as string, progress);
  try {
    for await (const m of messages) verifier.add(m);
  } catch (err) {
    throw new UsageError(`reading ${source}: ${(err as Error).message}`);
  }
  if (!values.quiet && lastProgress > 0) process.stderr.write("\n");
  const report = verifier.finish();
  if (values.state) await saveState(values.state, report.state);
  if (values.json) process.stdout.write(`${JSON.stringify({ source, ...report }, null, 2)}\n`);
  else process.stdout.write(`${renderReport(report, source)}\n`);
  // After the report is out: a status that cannot be written is exit 2, never a lost result.
  if (statusRef)
    await writeIntegrity(statusRef, integrityOf(report, source, new Date()), values.kubeconfig);
  return report.ok ? 0 : 1;
}
