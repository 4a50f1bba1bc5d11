// A real Kubernetes control plane for tests. By default it is started the way controller-runtime's
// envtest does: etcd and kube-apiserver on free loopback ports, a generated CA, serving and admin
// client certificates, a service-account signing key and issuer, RBAC authorization. No kubelet,
// no controller-manager: pods stay Pending and tests write pod status themselves.
// With `node`, it is the API server of a real node (node.ts): it listens on the node's bridge
// address so pods reach it through the `kubernetes` Service, keeps ServiceAccount admission on,
// authorizes kubelets with the Node authorizer and can reach them for logs.

import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { CertificateAuthority, type KeyPairPem } from "../../operator/webhook/pki.ts";
import { ComponentError, freePort, ManagedProcess, waitUntilReady } from "./process.ts";

export interface KubeOptions {
  etcd: string;
  kubeApiserver: string;
  workDir?: string;
  readyTimeoutMs?: number;
  /** The API server of a real node instead of envtest's. */
  node?: ClusterAddresses;
}

export interface ClusterAddresses {
  /** The node's address on the pod bridge: the API server listens and advertises there. */
  address: string;
  serviceCidr: string;
  /** The first address of serviceCidr: the `kubernetes` Service. */
  kubernetesServiceIp: string;
}

/** Files a real node's components need besides their own client certificates. */
export interface ClusterFiles {
  caFile: string;
  saKeyFile: string;
}

export interface KubeControlPlane {
  /** https://127.0.0.1:<port> */
  server: string;
  caPem: string;
  /** A kubeconfig for the admin user (CN=admin, O=system:masters). */
  kubeconfigPath: string;
  /** The CA tests use to sign webhook serving certificates the API server trusts via caBundle. */
  ca: CertificateAuthority;
  apiserverLogFile: string;
  etcdLogFile: string;
  pids: number[];
  /**
   * Writes a kubeconfig that authenticates as the ServiceAccount `namespace/name` with a real
   * token from the TokenRequest API (the ServiceAccount is created if missing). Requests made
   * with it are authorized by RBAC like the operator's in a cluster.
   */
  kubeconfigForServiceAccount(namespace: string, name: string): Promise<string>;
  /** A kubeconfig for a client certificate with this user and groups, signed by the CA. */
  kubeconfigForUser(name: string, user: string, groups: string[]): string;
  files: ClusterFiles;
  workDir: string;
  stop(): Promise<void>;
}

export function kubeconfigJson(
  server: string,
  caPem: string,
  user: Record<string, string>,
): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        { name: "auditready-test", cluster: { server, "certificate-authority-data": b64(caPem) } },
      ],
      users: [{ name: "user", user }],
      contexts: [
        { name: "auditready-test", context: { cluster: "auditready-test", user: "user" } },
      ],
      "current-context": "auditready-test",
    },
    null,
    2,
  );
}

interface HttpsAuth {
  caPem: string;
  client: KeyPairPem;
}

/** One HTTPS request to the API server as the admin; resolves with status and body. */
export function apiRequest(
  server: string,
  auth: HttpsAuth,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server}${path}`,
      {
        method,
        ca: auth.caPem,
        cert: auth.client.certPem,
        key: auth.client.keyPem,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        timeout: 5_000,
      },
      (res) => {
        let data = "";
        res.on("data", (c: Buffer) => {
          data += c.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function startEtcd(binary: string, workDir: string, timeoutMs: number) {
  const [clientPort, peerPort] = await Promise.all([freePort(), freePort()]);
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const proc = new ManagedProcess({
    name: "etcd",
    command: binary,
    args: [
      "--name=default",
      `--data-dir=${join(workDir, "etcd-data")}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=default=${peer}`,
      "--unsafe-no-fsync=true", // test data: durability is not the point, speed is
      "--log-level=warn",
    ],
    logFile: join(workDir, "etcd.log"),
  });
  await waitUntilReady(
    proc,
    "healthy",
    async () => {
      const res = await fetch(`${client}/health`);
      const health = (await res.json()) as { health?: string };
      return health.health === "true" ? true : undefined;
    },
    timeoutMs,
  );
  return { proc, client };
}

export async function startKube(opts: KubeOptions): Promise<KubeControlPlane> {
  const workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), "auditready-kube-"));
  const certDir = join(workDir, "pki");
  mkdirSync(certDir, { recursive: true });
  const timeoutMs = opts.readyTimeoutMs ?? 120_000;

  const node = opts.node;
  const ca = CertificateAuthority.create("auditready-test-ca");
  const serving = ca.issue({
    commonName: "kube-apiserver",
    dnsNames: [
      "localhost",
      "kubernetes",
      "kubernetes.default",
      "kubernetes.default.svc",
      "kubernetes.default.svc.cluster.local",
    ],
    ipAddresses: node
      ? ["127.0.0.1", node.address, node.kubernetesServiceIp]
      : ["127.0.0.1", "10.0.0.1"],
    usage: "server",
  });
  const admin = ca.issue({
    commonName: "admin",
    organizations: ["system:masters"],
    usage: "client",
  });
  const saKey = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const files = {
    ca: join(certDir, "ca.crt"),
    servingCert: join(certDir, "apiserver.crt"),
    servingKey: join(certDir, "apiserver.key"),
    saKey: join(certDir, "sa.key"),
    saPub: join(certDir, "sa.pub"),
  };
  writeFileSync(files.ca, ca.certPem);
  writeFileSync(files.servingCert, serving.certPem);
  writeFileSync(files.servingKey, serving.keyPem, { mode: 0o600 });
  writeFileSync(files.saKey, saKey.privateKey.export({ type: "pkcs8", format: "pem" }), {
    mode: 0o600,
  });
  writeFileSync(files.saPub, saKey.publicKey.export({ type: "spki", format: "pem" }));

  const etcd = await startEtcd(opts.etcd, workDir, timeoutMs);
  const port = await freePort();
  const host = node?.address ?? "127.0.0.1";
  const server = `https://${host}:${port}`;
  const apiserver = new ManagedProcess({
    name: "kube-apiserver",
    command: opts.kubeApiserver,
    args: [
      `--etcd-servers=${etcd.client}`,
      `--bind-address=${host}`,
      `--advertise-address=${host}`,
      `--secure-port=${port}`,
      `--cert-dir=${certDir}`,
      `--tls-cert-file=${files.servingCert}`,
      `--tls-private-key-file=${files.servingKey}`,
      `--client-ca-file=${files.ca}`,
      `--service-account-issuer=${server}/`,
      `--service-account-key-file=${files.saPub}`,
      `--service-account-signing-key-file=${files.saKey}`,
      "--enable-priority-and-fairness=false",
      ...(node ? nodeModeArgs(node, ca, certDir) : envtestArgs),
      "--v=1",
    ],
    // Webhooks are called on https://127.0.0.1: a proxy from the environment must not catch them.
    env: { ...process.env, NO_PROXY: "127.0.0.1,localhost", no_proxy: "127.0.0.1,localhost" },
    logFile: join(workDir, "kube-apiserver.log"),
  });

  const auth: HttpsAuth = { caPem: ca.certPem, client: admin };
  const stop = async () => {
    await apiserver.stop();
    await etcd.proc.stop();
  };
  try {
    await waitUntilReady(
      apiserver,
      "/readyz ok and namespace default present",
      async () => {
        const ready = await apiRequest(server, auth, "GET", "/readyz");
        if (ready.status !== 200)
          throw new Error(`/readyz ${ready.status}: ${ready.body.slice(-300)}`);
        const ns = await apiRequest(server, auth, "GET", "/api/v1/namespaces/default");
        return ns.status === 200 ? true : undefined;
      },
      timeoutMs,
    );
  } catch (err) {
    await stop();
    throw err;
  }

  /** Writes a kubeconfig that authenticates with a client certificate signed by the CA. */
  const certKubeconfig = (name: string, cert: KeyPairPem) => {
    const path = join(workDir, `${name}.kubeconfig`);
    writeFileSync(
      path,
      kubeconfigJson(server, ca.certPem, {
        "client-certificate-data": Buffer.from(cert.certPem).toString("base64"),
        "client-key-data": Buffer.from(cert.keyPem).toString("base64"),
      }),
      { mode: 0o600 },
    );
    return path;
  };
  const kubeconfigPath = certKubeconfig("admin", admin);

  return {
    server,
    caPem: ca.certPem,
    kubeconfigPath,
    ca,
    apiserverLogFile: apiserver.logFile,
    etcdLogFile: etcd.proc.logFile,
    pids: [apiserver.pid, etcd.proc.pid],
    kubeconfigForServiceAccount: (namespace, name) =>
      serviceAccountKubeconfig(kubeconfigPath, namespace, name),
    kubeconfigForUser: (name, user, groups) =>
      certKubeconfig(name, ca.issue({ commonName: user, organizations: groups, usage: "client" })),
    files: { caFile: files.ca, saKeyFile: files.saKey },
    workDir,
    stop,
  };
}

const envtestArgs = [
  "--authorization-mode=RBAC",
  "--service-cluster-ip-range=10.0.0.0/24",
  "--allow-privileged=true",
  // No controller-manager creates the default ServiceAccount, so pods would be refused.
  "--disable-admission-plugins=ServiceAccount",
  "--endpoint-reconciler-type=none",
];

/** A real node's API server: Node authorizer, ServiceAccount admission, kubelet client. */
function nodeModeArgs(node: ClusterAddresses, ca: CertificateAuthority, certDir: string): string[] {
  const kubeletClient = ca.issue({
    commonName: "kube-apiserver-kubelet-client",
    organizations: ["system:masters"],
    usage: "client",
  });
  const cert = join(certDir, "kubelet-client.crt");
  const key = join(certDir, "kubelet-client.key");
  writeFileSync(cert, kubeletClient.certPem);
  writeFileSync(key, kubeletClient.keyPem, { mode: 0o600 });
  return [
    "--authorization-mode=Node,RBAC",
    "--enable-admission-plugins=NodeRestriction",
    `--service-cluster-ip-range=${node.serviceCidr}`,
    "--allow-privileged=false",
    "--endpoint-reconciler-type=lease",
    `--kubelet-client-certificate=${cert}`,
    `--kubelet-client-key=${key}`,
    "--kubelet-preferred-address-types=InternalIP",
  ];
}

interface AdminKubeconfig {
  clusters: { cluster: { server: string; "certificate-authority-data": string } }[];
  users: { user: { "client-certificate-data": string; "client-key-data": string } }[];
}

/**
 * Writes, next to the admin kubeconfig, one that authenticates as the ServiceAccount
 * `namespace/name` with a real token from the TokenRequest API (namespace and ServiceAccount are
 * created if missing). RBAC then authorizes its requests as it would the operator's in a cluster.
 */
export async function serviceAccountKubeconfig(
  adminKubeconfigPath: string,
  namespace: string,
  name: string,
): Promise<string> {
  const admin = JSON.parse(readFileSync(adminKubeconfigPath, "utf8")) as AdminKubeconfig;
  const cluster = admin.clusters[0]?.cluster;
  const user = admin.users[0]?.user;
  if (!cluster || !user)
    throw new ComponentError(`${adminKubeconfigPath}: not an admin kubeconfig written by kube.ts`);
  const unb64 = (s: string) => Buffer.from(s, "base64").toString();
  const server = cluster.server;
  const auth: HttpsAuth = {
    caPem: unb64(cluster["certificate-authority-data"]),
    client: {
      certPem: unb64(user["client-certificate-data"]),
      keyPem: unb64(user["client-key-data"]),
    },
  };
  const ensure = async (path: string, body: unknown) => {
    const res = await apiRequest(server, auth, "POST", path, body);
    if (res.status !== 201 && res.status !== 409) {
      throw new ComponentError(`POST ${path}: ${res.status} ${res.body}`);
    }
  };
  await ensure("/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: namespace },
  });
  await ensure(`/api/v1/namespaces/${namespace}/serviceaccounts`, {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name },
  });
  const res = await apiRequest(
    server,
    auth,
    "POST",
    `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds: 86_400 },
    },
  );
  if (res.status !== 201)
    throw new ComponentError(`TokenRequest for ${namespace}/${name}: ${res.status} ${res.body}`);
  const token = (JSON.parse(res.body) as { status: { token: string } }).status.token;
  const path = join(dirname(adminKubeconfigPath), `sa-${namespace}-${name}.kubeconfig`);
  writeFileSync(path, kubeconfigJson(server, auth.caPem, { token }), { mode: 0o600 });
  return path;
}
