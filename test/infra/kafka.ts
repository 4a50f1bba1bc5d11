// A real Apache Kafka broker for tests: single node, KRaft (combined broker + controller), on
// free 127.0.0.1 ports, storage in a temp folder, a small heap. Optionally a second listener
// with SASL_SSL (PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 over TLS with a generated CA), so the
// sidecar's TLS/SASL support is tested against the real thing.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kafka, logLevel, type SASLOptions } from "kafkajs";
import { CertificateAuthority } from "../../operator/webhook/pki.ts";
import { ComponentError, freePort, ManagedProcess, waitUntilReady } from "./process.ts";

export interface SaslSslEndpoint {
  bootstrap: string;
  /** PEM of the CA that signed the listener's certificate. */
  caPem: string;
  caFile: string;
  username: string;
  password: string;
  mechanisms: readonly ["plain", "scram-sha-256", "scram-sha-512"];
}

export interface KafkaPorts {
  plain: number;
  controller: number;
  sasl: number;
  pod: number;
}

export interface KafkaBroker {
  bootstrap: string;
  /** Pass back with workDir to start the same broker again (same ports, same data). */
  ports: KafkaPorts;
  workDir: string;
  saslSsl: SaslSslEndpoint | undefined;
  /** PLAINTEXT on the pod bridge's gateway, for sidecars on a real node (with podAddress). */
  podBootstrap: string | undefined;
  logFile: string;
  dataDir: string;
  pid: number;
  stop(): Promise<void>;
}

export interface KafkaOptions {
  libs: string;
  saslSsl?: boolean;
  heapMb?: number;
  workDir?: string;
  readyTimeoutMs?: number;
  /**
   * Kafka's StandardAuthorizer with no default access: the PLAINTEXT listener's principal
   * (ANONYMOUS, the tests' admin) is a super user, the SASL user may do only what ACLs grant.
   */
  authorizer?: boolean;
  /** The node's address on the pod bridge: a PLAINTEXT listener there serves the pods. */
  podAddress?: string;
  /**
   * Restart: with the workDir and ports of a stopped broker, starts it again on the same
   * ports and the same data (storage is formatted only when it was not yet). Not with saslSsl.
   */
  ports?: KafkaPorts;
}

const LOG4J2 = `rootLogger.level=INFO
rootLogger.appenderRef.out.ref=OUT
appender.out.type=Console
appender.out.name=OUT
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=INFO
logger.state.name=state.change.logger
logger.state.level=WARN
`;

function java(libs: string, mainClass: string, args: string[], workDir: string, heapMb: number) {
  return {
    command: "java",
    args: [
      `-Xms${Math.min(heapMb, 128)}m`,
      `-Xmx${heapMb}m`,
      "-XX:+UseSerialGC", // two cores: the parallel collectors only contend with the tests
      "-XX:TieredStopAtLevel=1", // fast start matters more than peak JIT for a test broker
      "-Djava.awt.headless=true",
      `-Dlog4j2.configurationFile=file:${join(workDir, "log4j2.properties")}`,
      "-cp",
      `${libs}/*`,
      mainClass,
      ...args,
    ],
  };
}

export async function startKafka(opts: KafkaOptions): Promise<KafkaBroker> {
  const workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), "auditready-kafka-"));
  const dataDir = join(workDir, "data");
  mkdirSync(dataDir, { recursive: true });
  const heapMb = opts.heapMb ?? 512;
  const formatted = existsSync(join(dataDir, "meta.properties"));
  if (formatted && opts.saslSsl) {
    throw new ComponentError(
      "restarting a broker with saslSsl is not supported (new CA, new password)",
    );
  }
  const [plainPort, controllerPort, saslPort, podPort] = opts.ports
    ? [opts.ports.plain, opts.ports.controller, opts.ports.sasl, opts.ports.pod]
    : await Promise.all([freePort(), freePort(), freePort(), freePort()]);

  const listeners = [
    `PLAINTEXT://127.0.0.1:${plainPort}`,
    `CONTROLLER://127.0.0.1:${controllerPort}`,
  ];
  const advertised = [`PLAINTEXT://127.0.0.1:${plainPort}`];
  const protocolMap = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"];
  const podBootstrap = opts.podAddress ? `${opts.podAddress}:${podPort}` : undefined;
  if (podBootstrap) {
    listeners.push(`POD://${podBootstrap}`);
    advertised.push(`POD://${podBootstrap}`);
    protocolMap.push("POD:PLAINTEXT");
  }
  const props: string[] = [];
  let saslSsl: SaslSslEndpoint | undefined;
  const formatArgs: string[] = [];

  if (opts.saslSsl) {
    const ca = CertificateAuthority.create("auditready-test-kafka-ca");
    const server = ca.issue({
      commonName: "127.0.0.1",
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
      usage: "server",
    });
    const keystore = join(workDir, "server-keystore.pem");
    writeFileSync(keystore, server.keyPem + server.certPem, { mode: 0o600 });
    const caFile = join(workDir, "ca.pem");
    writeFileSync(caFile, ca.certPem);
    const username = "auditready";
    const password = randomBytes(18).toString("base64url");
    listeners.push(`SASL_SSL://127.0.0.1:${saslPort}`);
    advertised.push(`SASL_SSL://127.0.0.1:${saslPort}`);
    protocolMap.push("SASL_SSL:SASL_SSL");
    props.push(
      "listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
      `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${username}="${password}";`,
      "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
      "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
      "listener.name.sasl_ssl.ssl.keystore.type=PEM",
      `listener.name.sasl_ssl.ssl.keystore.location=${keystore}`,
    );
    // SCRAM credentials live in the KRaft metadata log: they are written when storage is formatted.
    for (const mech of ["SCRAM-SHA-256", "SCRAM-SHA-512"]) {
      formatArgs.push("--add-scram", `${mech}=[name=${username},password=${password}]`);
    }
    saslSsl = {
      bootstrap: `127.0.0.1:${saslPort}`,
      caPem: ca.certPem,
      caFile,
      username,
      password,
      mechanisms: ["plain", "scram-sha-256", "scram-sha-512"],
    };
  }

  if (opts.authorizer) {
    props.push(
      "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
      "super.users=User:ANONYMOUS",
      "allow.everyone.if.no.acl.found=false",
    );
  }

  const serverProperties = join(workDir, "server.properties");
  writeFileSync(
    serverProperties,
    [
      "process.roles=broker,controller",
      "node.id=1",
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=${listeners.join(",")}`,
      `advertised.listeners=${advertised.join(",")}`,
      `listener.security.protocol.map=${protocolMap.join(",")}`,
      "controller.listener.names=CONTROLLER",
      "inter.broker.listener.name=PLAINTEXT",
      `log.dirs=${dataDir}`,
      "num.partitions=1",
      "default.replication.factor=1",
      "min.insync.replicas=1",
      "offsets.topic.replication.factor=1",
      "offsets.topic.num.partitions=1",
      "transaction.state.log.replication.factor=1",
      "transaction.state.log.min.isr=1",
      "share.coordinator.state.topic.replication.factor=1",
      "share.coordinator.state.topic.min.isr=1",
      "group.initial.rebalance.delay.ms=0",
      "auto.create.topics.enable=false",
      ...props,
      "",
    ].join("\n"),
  );
  writeFileSync(join(workDir, "log4j2.properties"), LOG4J2);
  const logFile = join(workDir, "broker.log");

  // A 16-byte id, base64url; Kafka's own tool avoids a leading "-", which reads as an option.
  const clusterId = randomBytes(16).toString("base64url").replace(/^-/, "A");
  if (!formatted) {
    const format = new ManagedProcess({
      name: "kafka-storage-format",
      ...java(
        opts.libs,
        "kafka.tools.StorageTool",
        ["format", "--cluster-id", clusterId, "--config", serverProperties, ...formatArgs],
        workDir,
        256,
      ),
      logFile: join(workDir, "format.log"),
    });
    const formatExit = await format.exited;
    if (formatExit !== "0") {
      throw new ComponentError(`kafka storage format failed (${formatExit}):\n${format.logTail()}`);
    }
  }

  const proc = new ManagedProcess({
    name: "kafka",
    ...java(opts.libs, "kafka.Kafka", [serverProperties], workDir, heapMb),
    logFile,
  });
  const bootstrap = `127.0.0.1:${plainPort}`;
  const timeout = opts.readyTimeoutMs ?? 90_000;
  try {
    await waitUntilReady(
      proc,
      "answering metadata requests",
      () => metadataReady(bootstrap),
      timeout,
    );
    if (saslSsl) {
      const s = saslSsl;
      await waitUntilReady(
        proc,
        "answering on SASL_SSL",
        () =>
          metadataReady(s.bootstrap, {
            ssl: { ca: [s.caPem] },
            sasl: { mechanism: "scram-sha-512", username: s.username, password: s.password },
          }),
        timeout,
      );
    }
  } catch (err) {
    await proc.stop(5_000);
    throw err;
  }
  return {
    bootstrap,
    ports: { plain: plainPort, controller: controllerPort, sasl: saslPort, pod: podPort },
    workDir,
    saslSsl,
    podBootstrap,
    logFile,
    dataDir,
    pid: proc.pid,
    stop: () => proc.stop(),
  };
}

async function metadataReady(
  bootstrap: string,
  security: { ssl?: { ca: string[] }; sasl?: SASLOptions } = {},
): Promise<true | undefined> {
  const kafka = new Kafka({
    clientId: "auditready-readiness",
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    retry: { retries: 0 },
    ...security,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length === 1 && cluster.controller === 1 ? true : undefined;
  } finally {
    await admin.disconnect();
  }
}
