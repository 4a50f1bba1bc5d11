#!/usr/bin/env bash
# The host side of the test node, as root: what must be in place before any Kubernetes
# component starts, and everything the node changes on the host taken back afterwards.
#
#   host.sh up   <state-dir>   save sysctls, install the firewall guards, create the bridge
#   host.sh down <state-dir>   kill what containerd left (shims, pod processes), unmount, remove
#                              the bridge, netns, kube-proxy's and our iptables rules, pod cgroups,
#                              restore the sysctls. Idempotent: safe after a SIGKILLed run.
#
# The guards (the network rule of this project): pods talk only to the node and to each other.
#   - filter OUTPUT: a packet to the service CIDR that kube-proxy did not translate (DNAT runs
#     before the filter table) is rejected, so a ClusterIP never follows the default route out.
#   - mangle FORWARD: anything from the pod subnet to an address outside it is dropped. mangle,
#     not filter, so that no ACCEPT that kube-proxy prepends in filter FORWARD can come first.
#   - ip6tables: nothing from the bridge is forwarded over IPv6.
# Settings come from the environment (node.ts passes them): AUDITREADY_NODE_BRIDGE,
# AUDITREADY_NODE_GATEWAY (address/prefix), AUDITREADY_POD_CIDR, AUDITREADY_SERVICE_CIDR.
set -uo pipefail
action=${1:?usage: host.sh up|down <state-dir>}
state=${2:?usage: host.sh up|down <state-dir>}
bridge=${AUDITREADY_NODE_BRIDGE:-ar0}
gateway=${AUDITREADY_NODE_GATEWAY:-10.213.0.1/24}
pods=${AUDITREADY_POD_CIDR:-10.213.0.0/24}
services=${AUDITREADY_SERVICE_CIDR:-10.213.1.0/24}
# What kubelet, kube-proxy and the bridge plugin are known to change (kubelet's kernel tunables,
# the bridge's forwarding, kube-proxy's localnet routing).
SYSCTLS="kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom
kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward
net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables"

say() { echo "host.sh $action: $*" >&2; }

guards_up() {
  iptables -w -N AUDITREADY-GUARD-OUT 2>/dev/null || iptables -w -F AUDITREADY-GUARD-OUT
  iptables -w -A AUDITREADY-GUARD-OUT -d "$services" -j REJECT
  iptables -w -C OUTPUT -j AUDITREADY-GUARD-OUT 2>/dev/null || iptables -w -I OUTPUT 1 -j AUDITREADY-GUARD-OUT
  iptables -w -t mangle -N AUDITREADY-GUARD-FWD 2>/dev/null || iptables -w -t mangle -F AUDITREADY-GUARD-FWD
  iptables -w -t mangle -A AUDITREADY-GUARD-FWD -s "$pods" ! -d "$pods" -j DROP
  iptables -w -t mangle -C FORWARD -j AUDITREADY-GUARD-FWD 2>/dev/null ||
    iptables -w -t mangle -I FORWARD 1 -j AUDITREADY-GUARD-FWD
  ip6tables -w -C FORWARD -i "$bridge" -j DROP 2>/dev/null || ip6tables -w -I FORWARD 1 -i "$bridge" -j DROP
  # Checked, not assumed: node.ts starts nothing unless this passes.
  iptables -w -C OUTPUT -j AUDITREADY-GUARD-OUT && iptables -w -t mangle -C FORWARD -j AUDITREADY-GUARD-FWD
}

up() {
  mkdir -p "$state"
  if [ ! -f "$state/sysctl.saved" ]; then
    for key in $SYSCTLS; do
      value=$(sysctl -n "$key" 2>/dev/null) && printf '%s=%s\n' "$key" "$value"
    done > "$state/sysctl.saved.tmp" && mv "$state/sysctl.saved.tmp" "$state/sysctl.saved"
  fi
  ls /var/run/netns 2>/dev/null | sort > "$state/netns.before"
  guards_up || { say "could not install the firewall guards"; return 1; }
  date +%s%N > "$state/guards.installed"
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge || return 1
  fi
  ip addr replace "$gateway" dev "$bridge" && ip link set "$bridge" up || return 1
  sysctl -qw net.ipv4.ip_forward=1
  say "guards installed; bridge $bridge at $gateway"
}

# Every process of the node that can outlive its daemon: containerd's shims (they double-fork
# out of containerd's process group) and the containers under them.
kill_leftovers() {
  local sock="$state/containerd/containerd.sock" pids
  pids=$(pgrep -f -- "containerd-shim-runc-v2 .*-address $sock" || true)
  for cg in /sys/fs/cgroup/pids/kubepods /sys/fs/cgroup/cpu/kubepods /sys/fs/cgroup/memory/kubepods; do
    [ -d "$cg" ] && pids="$pids $(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null)"
  done
  pids=$(echo "$pids" | tr ' ' '\n' | grep -E '^[0-9]+$' | sort -u)
  [ -n "$pids" ] && { kill -KILL $pids 2>/dev/null; sleep 0.5; }
  return 0
}

unmount_under() {
  local dir=$1 m
  # Deepest first; lazily, so a busy mount cannot stop the rest.
  for m in $(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null
  done
  return 0
}

remove_cgroups() {
  local ctrl
  for ctrl in /sys/fs/cgroup/*/; do
    [ -d "$ctrl/kubepods" ] || continue
    find "$ctrl/kubepods" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}

# Rules in the builtin chains that jump to chains of kube-proxy, the CNI plugins or ours, then
# those chains themselves.
remove_chains() {
  local table rule chain
  for table in filter nat mangle; do
    iptables-save -t "$table" 2>/dev/null | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j (KUBE-|CNI-|AUDITREADY-)' |
      while read -r rule; do
        # eval: iptables-save quotes comments ("kubernetes service portals"), and the quotes
        # must group words again, not be passed along.
        eval "iptables -w -t $table -D ${rule#-A }" 2>/dev/null
      done
    for chain in $(iptables-save -t "$table" 2>/dev/null | sed -n 's/^:\(\(KUBE\|CNI\|AUDITREADY\)-[^ ]*\).*/\1/p'); do
      iptables -w -t "$table" -F "$chain" 2>/dev/null
    done
    for chain in $(iptables-save -t "$table" 2>/dev/null | sed -n 's/^:\(\(KUBE\|CNI\|AUDITREADY\)-[^ ]*\).*/\1/p'); do
      iptables -w -t "$table" -X "$chain" 2>/dev/null
    done
  done
  while ip6tables -w -D FORWARD -i "$bridge" -j DROP 2>/dev/null; do :; done
  return 0
}

down() {
  [ -d "$state" ] || return 0
  kill_leftovers
  unmount_under "$state"
  # Network namespaces the CNI made for this node's pods (not those that were there before).
  if [ -d /var/run/netns ]; then
    for ns in $(ls /var/run/netns | sort | comm -13 "$state/netns.before" - 2>/dev/null); do
      case "$ns" in cni-*) umount -l "/var/run/netns/$ns" 2>/dev/null; rm -f "/var/run/netns/$ns" ;; esac
    done
  fi
  remove_cgroups
  ip link del "$bridge" 2>/dev/null
  remove_chains
  if [ -f "$state/sysctl.saved" ]; then
    while IFS='=' read -r key value; do
      [ "$(sysctl -n "$key" 2>/dev/null)" = "$value" ] || sysctl -qw "$key=$value"
    done < "$state/sysctl.saved"
    rm -f "$state/sysctl.saved"
  fi
  # The node's files (the broker's data among them) go too, unless asked to keep them.
  [ "${AUDITREADY_KEEP_NODE_STATE:-}" = 1 ] || rm -rf "$state"
  say "done"
}

case "$action" in
  up) up ;;
  down) down ;;
  *) echo "usage: host.sh up|down <state-dir>" >&2; exit 2 ;;
esac
