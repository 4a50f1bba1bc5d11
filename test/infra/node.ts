// A real Kubernetes node next to the test API server: containerd (Debian's, with runc and the
// CNI plugins), kubelet, kube-proxy in iptables mode, kube-scheduler and kube-controller-manager
// (built from the Go module proxy like kube-apiserver). No image is ever pulled: the pause image
// and the project's images are imported into containerd, and pods use them as they are.
// Each daemon is a ManagedProcess (its own process group, killed with the run); what they leave
// on the host (shims, mounts, cgroups, iptables, sysctls) is host.sh's to take back.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KubeControlPlane } from "./kube.ts";
import type { NodeNetwork } from "./network.ts";
import { ComponentError, freePort, ManagedProcess, waitUntilReady } from "./process.ts";

export interface NodeBinaries {
  kubelet: string;
  kubeScheduler: string;
  kubeControllerManager: string;
  kubeProxy: string;
  cniBinDir: string;
}

export interface NodeOptions {
  kube: KubeControlPlane;
  bin: NodeBinaries;
  network: NodeNetwork;
  stateDir: string;
  /** The pod sandbox image: its archive, and the name it imports as. */
  pause: { archive: string; name: string };
  /** Image archives (docker-archive or OCI) imported into containerd before kubelet starts. */
  images: string[];
  readyTimeoutMs?: number;
}

export interface KubeNode {
  name: string;
  containerdAddress: string;
  processes: Record<string, ManagedProcess>;
  /** `ctr -n k8s.io <args>` against this node's containerd. */
  ctr(args: string[]): string;
  /** Imports an image archive into the node's containerd. */
  importImage(archive: string): void;
  /** Stops kubelet, kube-proxy, containerd, the scheduler and the controller-manager. */
  stop(): Promise<void>;
}

function containerdConfig(
  dir: string,
  sock: string,
  pauseImage: string,
  cni: string,
  cniConf: string,
) {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${sock}"
[ttrpc]
  address = "${sock}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImage}"
  # runc fails without it here: no CAP_SYS_RESOURCE to lower a container's oom_score_adj.
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${cni}"
    conf_dir = "${cniConf}"
  # No registry is ever asked: every registry resolves to a closed loopback port (hosts.toml
  # under _default), so a pod naming an image that was not imported fails at once, on the node.
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${dir}/certs.d"
`;
}

function cniConfig(net: NodeNetwork, ipamDir: string): string {
  return JSON.stringify(
    {
      cniVersion: "0.4.0",
      name: "auditready",
      plugins: [
        {
          type: "bridge",
          bridge: net.bridge,
          isGateway: true,
          // No masquerade: nothing from a pod is ever meant to leave the node.
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            dataDir: ipamDir,
            ranges: [[{ subnet: net.podCidr, gateway: net.gateway }]],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        },
      ],
    },
    null,
    2,
  );
}

function kubeletConfig(o: {
  net: NodeNetwork;
  sock: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  port: number;
  healthzPort: number;
  resolvConf: string;
}): string {
  return JSON.stringify(
    {
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      address: o.net.gateway,
      port: o.port,
      readOnlyPort: 0,
      healthzBindAddress: "127.0.0.1",
      healthzPort: o.healthzPort,
      tlsCertFile: o.certFile,
      tlsPrivateKeyFile: o.keyFile,
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: false },
        x509: { clientCAFile: o.caFile },
      },
      authorization: { mode: "AlwaysAllow" },
      // These hosts have cgroup v1 and no systemd.
      cgroupDriver: "cgroupfs",
      failCgroupV1: false,
      failSwapOn: false,
      protectKernelDefaults: false,
      makeIPTablesUtilChains: false,
      containerRuntimeEndpoint: `unix://${o.sock}`,
      resolvConf: o.resolvConf,
      clusterDomain: "cluster.local",
      serializeImagePulls: false,
      // Imported images must never be collected: they cannot be pulled back.
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      evictionHard: {
        "memory.available": "100Mi",
        "nodefs.available": "1%",
        "imagefs.available": "1%",
      },
      maxPods: 60,
      nodeStatusUpdateFrequency: "2s",
      syncFrequency: "5s",
      fileCheckFrequency: "5s",
      shutdownGracePeriod: "0s",
    },
    null,
    2,
  );
}

export async function startNode(opts: NodeOptions): Promise<KubeNode> {
  const { kube, bin, network: net, stateDir } = opts;
  const timeoutMs = opts.readyTimeoutMs ?? 120_000;
  const dirs = {
    containerd: join(stateDir, "containerd"),
    cniConf: join(stateDir, "cni", "net.d"),
    ipam: join(stateDir, "cni", "ipam"),
    kubelet: join(stateDir, "kubelet"),
    pki: join(stateDir, "node-pki"),
    logs: join(stateDir, "logs"),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  const sock = join(dirs.containerd, "containerd.sock");
  const processes: Record<string, ManagedProcess> = {};
  const stopAll = async () => {
    // kubelet first, so nothing restarts what the others stop; containerd last.
    for (const name of [
      "kubelet",
      "kube-proxy",
      "kube-scheduler",
      "kube-controller-manager",
      "containerd",
    ]) {
      await processes[name]?.stop(10_000);
    }
  };
  const ctr = (args: string[]) =>
    execFileSync("ctr", ["--address", sock, "-n", "k8s.io", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 16 << 20,
    }).toString();
  const importImage = (archive: string) => {
    try {
      ctr(["images", "import", "--no-unpack=false", archive]);
    } catch (err) {
      const e = err as { stderr?: Buffer; message: string };
      throw new ComponentError(
        `ctr images import ${archive}: ${e.stderr?.toString() ?? e.message}`,
      );
    }
  };

  try {
    // containerd, and the images it needs, while the control plane's own daemons start.
    writeFileSync(join(dirs.cniConf, "10-auditready.conflist"), cniConfig(net, dirs.ipam));
    mkdirSync(join(dirs.containerd, "certs.d", "_default"), { recursive: true });
    writeFileSync(
      join(dirs.containerd, "certs.d", "_default", "hosts.toml"),
      'server = "http://127.0.0.1:9"\n\n[host."http://127.0.0.1:9"]\n  capabilities = ["pull", "resolve"]\n',
    );
    const config = join(dirs.containerd, "config.toml");
    writeFileSync(
      config,
      containerdConfig(dirs.containerd, sock, opts.pause.name, bin.cniBinDir, dirs.cniConf),
    );
    processes.containerd = new ManagedProcess({
      name: "containerd",
      command: "containerd",
      args: ["--config", config, "--log-level", "warn"],
      logFile: join(dirs.logs, "containerd.log"),
    });
    const proxyHealthz = await startControlPlaneDaemons(opts, dirs.logs, processes);
    await waitUntilReady(
      processes.containerd,
      "serving its socket",
      async () => {
        ctr(["version"]);
        return true;
      },
      timeoutMs,
    );
    for (const archive of [opts.pause.archive, ...opts.images]) importImage(archive);

    // kubelet: a serving certificate for the node's address, a client certificate as the node.
    const serving = kube.ca.issue({
      commonName: net.nodeName,
      ipAddresses: [net.gateway, "127.0.0.1"],
      usage: "server",
    });
    const certFile = join(dirs.pki, "kubelet.crt");
    const keyFile = join(dirs.pki, "kubelet.key");
    writeFileSync(certFile, serving.certPem);
    writeFileSync(keyFile, serving.keyPem, { mode: 0o600 });
    // Pods get no name server: nothing outside the node is there to answer them.
    const resolvConf = join(stateDir, "resolv.conf");
    writeFileSync(resolvConf, "options ndots:1\n");
    const [port, healthzPort] = await Promise.all([freePort(), freePort()]);
    const kubeletConfigFile = join(stateDir, "kubelet-config.json");
    writeFileSync(
      kubeletConfigFile,
      kubeletConfig({
        net,
        sock,
        caFile: kube.files.caFile,
        certFile,
        keyFile,
        port,
        healthzPort,
        resolvConf,
      }),
    );
    processes.kubelet = new ManagedProcess({
      name: "kubelet",
      command: bin.kubelet,
      args: [
        `--config=${kubeletConfigFile}`,
        `--kubeconfig=${kube.kubeconfigForUser("kubelet", `system:node:${net.nodeName}`, ["system:nodes"])}`,
        `--root-dir=${dirs.kubelet}`,
        `--cert-dir=${dirs.pki}`,
        `--hostname-override=${net.nodeName}`,
        `--node-ip=${net.gateway}`,
        "--v=1",
      ],
      logFile: join(dirs.logs, "kubelet.log"),
    });
    await waitUntilReady(
      processes.kubelet,
      "healthz ok",
      async () => {
        const res = await fetch(`http://127.0.0.1:${healthzPort}/healthz`);
        return res.ok ? true : undefined;
      },
      timeoutMs,
    );
    // kube-proxy is healthy once the node it serves exists and its rules are synced.
    const proxy = processes["kube-proxy"];
    if (proxy) {
      await waitUntilReady(
        proxy,
        "healthz ok",
        async () => {
          const res = await fetch(`http://127.0.0.1:${proxyHealthz}/healthz`);
          return res.ok ? true : undefined;
        },
        timeoutMs,
      );
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

  return {
    name: net.nodeName,
    containerdAddress: sock,
    processes,
    ctr,
    importImage,
    stop: stopAll,
  };
}

/** Starts kube-controller-manager, kube-scheduler and kube-proxy; returns kube-proxy's health port. */
async function startControlPlaneDaemons(
  opts: NodeOptions,
  logs: string,
  processes: Record<string, ManagedProcess>,
): Promise<number> {
  const { kube, bin, network: net } = opts;
  const [cmPort, schedPort, proxyHealthz, proxyMetrics] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const cmConfig = kube.kubeconfigForUser(
    "controller-manager",
    "system:kube-controller-manager",
    [],
  );
  processes["kube-controller-manager"] = new ManagedProcess({
    name: "kube-controller-manager",
    command: bin.kubeControllerManager,
    args: [
      `--kubeconfig=${cmConfig}`,
      `--authentication-kubeconfig=${cmConfig}`,
      `--authorization-kubeconfig=${cmConfig}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${cmPort}`,
      "--leader-elect=false",
      "--use-service-account-credentials=true",
      `--service-account-private-key-file=${kube.files.saKeyFile}`,
      // Published as kube-root-ca.crt in every namespace: projected token volumes need it.
      `--root-ca-file=${kube.files.caFile}`,
      `--cluster-cidr=${net.podCidr}`,
      `--service-cluster-ip-range=${net.serviceCidr}`,
      "--allocate-node-cidrs=false",
      "--v=1",
    ],
    logFile: join(logs, "kube-controller-manager.log"),
  });
  const schedConfig = kube.kubeconfigForUser("scheduler", "system:kube-scheduler", []);
  processes["kube-scheduler"] = new ManagedProcess({
    name: "kube-scheduler",
    command: bin.kubeScheduler,
    args: [
      `--kubeconfig=${schedConfig}`,
      `--authentication-kubeconfig=${schedConfig}`,
      `--authorization-kubeconfig=${schedConfig}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${schedPort}`,
      "--leader-elect=false",
      "--v=1",
    ],
    logFile: join(logs, "kube-scheduler.log"),
  });
  processes["kube-proxy"] = new ManagedProcess({
    name: "kube-proxy",
    command: bin.kubeProxy,
    args: [
      `--kubeconfig=${kube.kubeconfigForUser("kube-proxy", "system:kube-proxy", [])}`,
      "--proxy-mode=iptables",
      `--hostname-override=${net.nodeName}`,
      `--cluster-cidr=${net.podCidr}`,
      `--nodeport-addresses=${net.gateway}/32`,
      `--healthz-bind-address=127.0.0.1:${proxyHealthz}`,
      `--metrics-bind-address=127.0.0.1:${proxyMetrics}`,
      // With these, kube-proxy changes no sysctl on the host.
      "--conntrack-max-per-core=0",
      "--conntrack-min=0",
      "--conntrack-tcp-timeout-established=0s",
      "--conntrack-tcp-timeout-close-wait=0s",
      "--iptables-localhost-nodeports=false",
      "--v=1",
    ],
    logFile: join(logs, "kube-proxy.log"),
  });
  // Started, not waited for: the scheduler and the controller-manager show they work when the
  // node's pods run; kube-proxy is checked once kubelet has registered the node.
  return proxyHealthz;
}
