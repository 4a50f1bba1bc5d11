// The test node's addresses, in one place: the pod bridge and its gateway (the node itself: the
// API server, Kafka and kubelet listen there), the pod subnet and the Service CIDR. Pods get
// addresses on the bridge and talk only to the node and to each other (node/host.sh's guards).

export interface NodeNetwork {
  /** Bridge device the CNI bridge plugin attaches pods to. */
  bridge: string;
  /** The node's address on the bridge: every pod's default gateway. */
  gateway: string;
  prefixLength: number;
  podCidr: string;
  serviceCidr: string;
  /** The first Service address: the `kubernetes` Service. */
  kubernetesServiceIp: string;
  nodeName: string;
}

export const NODE_NETWORK: NodeNetwork = {
  bridge: "ar0",
  gateway: "10.213.0.1",
  prefixLength: 24,
  podCidr: "10.213.0.0/24",
  serviceCidr: "10.213.1.0/24",
  kubernetesServiceIp: "10.213.1.1",
  nodeName: "auditready-node",
};

/** What node/host.sh reads. */
export function hostEnv(net: NodeNetwork): Record<string, string> {
  return {
    AUDITREADY_NODE_BRIDGE: net.bridge,
    AUDITREADY_NODE_GATEWAY: `${net.gateway}/${net.prefixLength}`,
    AUDITREADY_POD_CIDR: net.podCidr,
    AUDITREADY_SERVICE_CIDR: net.serviceCidr,
  };
}
