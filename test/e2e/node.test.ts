// The node the e2e tests run on keeps this project's network rule: the firewall guards were in
// place before the API server made its first Service, pods sit on the bridge with the node as
// their gateway, and kube-proxy translates Service addresses (the operator reaches the API
// server through the `kubernetes` Service, from inside its pod).
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { endpoint } from "../infra/endpoints.ts";
import { NODE_NETWORK } from "../infra/network.ts";
import { kubectlJson } from "./support.ts";

const iptables = (args: string[]) => execFileSync("iptables", ["-w", ...args]).toString();

describe("the test node", () => {
  it("rejects OUTPUT to the service CIDR unless kube-proxy translated it, and drops pod traffic leaving the pod subnet", () => {
    const output = iptables(["-S", "OUTPUT"]).split("\n");
    // In OUTPUT's filter chain, after nat OUTPUT's DNAT: only an address kube-proxy did not
    // translate is still in the service CIDR here. kube-proxy prepends its own chains; none of
    // what comes before the guard may accept a packet.
    const at = output.indexOf("-A OUTPUT -j AUDITREADY-GUARD-OUT");
    expect(at).toBeGreaterThan(0);
    for (const rule of output.slice(1, at)) {
      const target = / -j (\S+)/.exec(rule)?.[1] ?? "";
      expect(target, rule).not.toBe("ACCEPT");
      if (target.startsWith("KUBE-"))
        expect(iptables(["-S", target]), target).not.toMatch(/-j ACCEPT/);
    }
    expect(iptables(["-S", "AUDITREADY-GUARD-OUT"])).toContain(
      `-A AUDITREADY-GUARD-OUT -d ${NODE_NETWORK.serviceCidr} -j REJECT`,
    );
    const forward = iptables(["-t", "mangle", "-S", "FORWARD"]).split("\n");
    expect(forward[1]).toBe("-A FORWARD -j AUDITREADY-GUARD-FWD");
    expect(iptables(["-t", "mangle", "-S", "AUDITREADY-GUARD-FWD"])).toContain(
      `-A AUDITREADY-GUARD-FWD -s ${NODE_NETWORK.podCidr} ! -d ${NODE_NETWORK.podCidr} -j DROP`,
    );
  });

  it("had the guards installed before any Service existed", () => {
    const guardsAt = Number(BigInt(endpoint("guardsInstalledNs")) / 1_000_000n);
    const services = kubectlJson<{
      items: { metadata: { name: string; creationTimestamp: string } }[];
    }>(["get", "services", "-A"]).items;
    expect(services.map((s) => s.metadata.name)).toContain("kubernetes");
    const first = Math.min(...services.map((s) => Date.parse(s.metadata.creationTimestamp)));
    // creationTimestamp has whole seconds: the guard's second, floored, is the bound.
    expect(first).toBeGreaterThanOrEqual(Math.floor(guardsAt / 1_000) * 1_000);
  });

  it("is Ready, addressed on the bridge, with the kubernetes Service backed by the node's address", () => {
    const node = kubectlJson<{
      status: {
        addresses: { type: string; address: string }[];
        conditions: { type: string; status: string }[];
      };
    }>(["get", "node", NODE_NETWORK.nodeName]);
    expect(node.status.conditions.find((c) => c.type === "Ready")?.status).toBe("True");
    expect(node.status.addresses).toContainEqual({
      type: "InternalIP",
      address: NODE_NETWORK.gateway,
    });
    const svc = kubectlJson<{ spec: { clusterIP: string } }>([
      "get",
      "service",
      "kubernetes",
      "-n",
      "default",
    ]);
    expect(svc.spec.clusterIP).toBe(NODE_NETWORK.kubernetesServiceIp);
    const slices = kubectlJson<{ items: { endpoints: { addresses: string[] }[] }[] }>([
      "get",
      "endpointslices",
      "-n",
      "default",
      "-l",
      "kubernetes.io/service-name=kubernetes",
    ]);
    expect(slices.items.flatMap((s) => s.endpoints.flatMap((e) => e.addresses))).toEqual([
      NODE_NETWORK.gateway,
    ]);
  });
});
