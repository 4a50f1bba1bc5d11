#!/usr/bin/env bash
# Installs the Debian packages the test node runs on (containerd, runc, the CNI plugins,
# iptables, conntrack for kube-proxy, buildah for the images), only those missing. Idempotent;
# waits for the dpkg lock when another install is running; says what it installs.
set -euo pipefail
wanted=(containerd runc containernetworking-plugins iptables conntrack buildah)
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "node/packages.sh: need root to install ${missing[*]}" >&2; exit 1; }
  echo "node/packages.sh: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
echo /usr/lib/cni
