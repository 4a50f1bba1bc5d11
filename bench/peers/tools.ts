// The tools `bench:peers` compares, each started as its real process tailing one file and
// publishing to its own topic on the bench broker, with the same producer settings wherever the
// tool lets us set them (zstd, idempotent producer, acks=all; librdkafka's other defaults).
// auditready runs as the real sidecar (sidecar/main.ts) with a config like the injected one,
// except a local policy key instead of the operator's certify endpoint.
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { generateSigningKey, privateKeyPem } from "../../entry/keys.ts";
import type { SidecarConfigInput } from "../../sidecar/config/schema.ts";
import { freePort, ManagedProcess } from "../../test/infra/process.ts";

export type PhaseName = "backlog" | "steady" | "idle";

/** What install.sh printed: where the peers are. */
export interface PeerPaths {
  rsyslogd: string;
  kcat: string;
  syslogng: string;
  syslogngModules: string;
  syslogngLibs: string;
}

export interface ToolRun {
  /** A fresh folder for this run's config and state. */
  dir: string;
  /** The log file the tool tails. */
  file: string;
  topic: string;
  bootstrap: string;
  peers: PeerPaths;
}

export interface Tool {
  name: string;
  /** What a delivered line looks like in the topic (auditready also writes checkpoints). */
  isLine: (value: Buffer) => boolean;
  /** kcat -P holds a pipe's last lines until more input or EOF: it cannot tail, so backlog only. */
  phases: readonly PhaseName[];
  /** The root process is a shell that waits for the tool (see TreeSampler). */
  wrapper: boolean;
  start(run: ToolRun): Promise<ManagedProcess>;
}

const SIDECAR_MAIN = resolve(import.meta.dirname, "../../sidecar/main.ts");

const anyLine = () => true;
const isLog = (v: Buffer) => v.includes('"type":"log"');

function rsyslogConfig(run: ToolRun): string {
  return `global(workDirectory="${run.dir}")
module(load="imfile" mode="inotify")
module(load="omkafka")
template(name="line" type="string" string="%msg%")
input(type="imfile" file="${run.file}" tag="app" ruleset="kafka")
ruleset(name="kafka") {
  action(type="omkafka" broker=["${run.bootstrap}"] topic="${run.topic}" template="line"
    confParam=["compression.codec=zstd", "enable.idempotence=true", "acks=all"])
}
`;
}

/** `flowControl`: without it syslog-ng 3.38's kafka-c() drops lines when its queue is full. */
export function syslogNgConfig(run: ToolRun, flowControl: boolean): string {
  return `@version: 3.38
options { stats-freq(0); };
source s_app { file("${run.file}" flags(no-parse)); };
destination d_kafka {
  kafka-c(bootstrap-servers("${run.bootstrap}") topic("${run.topic}") message("$MSG")
    config("compression.codec" => "zstd" "enable.idempotence" => "true" "acks" => "all"));
};
log { source(s_app); destination(d_kafka);${flowControl ? " flags(flow-control);" : ""} };
`;
}

function syslogNg(name: string, flowControl: boolean): Tool {
  return {
    name,
    isLine: anyLine,
    phases: ["backlog", "steady", "idle"],
    wrapper: false,
    start: async (run) => {
      const conf = join(run.dir, "syslog-ng.conf");
      writeFileSync(conf, syslogNgConfig(run, flowControl));
      return new ManagedProcess({
        name,
        command: run.peers.syslogng,
        args: [
          "-F",
          "-e",
          "--no-caps",
          `--module-path=${run.peers.syslogngModules}`,
          `--cfgfile=${conf}`,
          `--persist-file=${join(run.dir, "syslog-ng.persist")}`,
          `--pidfile=${join(run.dir, "syslog-ng.pid")}`,
          `--control=${join(run.dir, "syslog-ng.ctl")}`,
        ],
        env: { ...process.env, LD_LIBRARY_PATH: run.peers.syslogngLibs },
        logFile: join(run.dir, "tool.log"),
      });
    },
  };
}

async function startSidecar(run: ToolRun): Promise<ManagedProcess> {
  const keyFile = join(run.dir, "policy.pem");
  writeFileSync(keyFile, privateKeyPem(generateSigningKey()), { mode: 0o600 });
  const config: SidecarConfigInput = {
    version: 1,
    policy: { name: "bench", namespace: "bench", generation: 1 },
    sources: [{ container: "app", paths: [run.file] }],
    normalize: { format: "combined" },
    signing: { policyKeyFile: keyFile },
    sink: { kafka: { brokers: [run.bootstrap], topic: run.topic } },
    stateDir: join(run.dir, "state"),
    server: { host: "127.0.0.1", port: await freePort() },
  };
  const configPath = join(run.dir, "config.yaml");
  writeFileSync(configPath, JSON.stringify(config)); // YAML is a superset of JSON
  return new ManagedProcess({
    name: "auditready",
    command: process.execPath,
    args: [SIDECAR_MAIN, "--config", configPath],
    env: {
      ...process.env,
      AUDITREADY_CLUSTER: "bench",
      POD_NAME: "bench-0",
      POD_NAMESPACE: "bench",
      POD_UID: "00000000-0000-4000-8000-000000000015",
      NODE_NAME: "bench-node",
      POD_SERVICE_ACCOUNT: "bench",
    },
    logFile: join(run.dir, "tool.log"),
  });
}

export const AUDITREADY = "auditready sidecar";

export const TOOLS: readonly Tool[] = [
  {
    name: AUDITREADY,
    isLine: isLog,
    phases: ["backlog", "steady", "idle"],
    wrapper: false,
    start: startSidecar,
  },
  {
    name: "rsyslog imfile → omkafka",
    isLine: anyLine,
    phases: ["backlog", "steady", "idle"],
    wrapper: false,
    start: async (run) => {
      const conf = join(run.dir, "rsyslog.conf");
      writeFileSync(conf, rsyslogConfig(run));
      return new ManagedProcess({
        name: "rsyslog",
        command: run.peers.rsyslogd,
        args: ["-n", "-iNONE", "-f", conf],
        logFile: join(run.dir, "tool.log"),
      });
    },
  },
  syslogNg("syslog-ng file() → kafka-c(), flow-control", true),
  syslogNg("syslog-ng file() → kafka-c(), plain", false),
  {
    name: "kcat -P (librdkafka, raw ceiling)",
    isLine: anyLine,
    phases: ["backlog"],
    wrapper: true,
    start: async (run) =>
      // The shell keeps kcat's CPU time (cutime) after kcat has sent the file and exited.
      new ManagedProcess({
        name: "kcat",
        command: "bash",
        args: [
          "-c",
          `"$0" -P -b "$1" -t "$2" -z zstd -X enable.idempotence=true -X acks=all -l "$3" || exit; exec sleep 86400`,
          run.peers.kcat,
          run.bootstrap,
          run.topic,
          run.file,
        ],
        logFile: join(run.dir, "tool.log"),
      }),
  },
];
