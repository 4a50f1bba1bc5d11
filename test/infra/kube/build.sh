#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and the node's daemons (kubelet, kube-scheduler,
# kube-controller-manager, kube-proxy) at the version pinned in go.mod (from the Go module proxy)
# into $AUDITREADY_CACHE/kube-<version>/bin. A cached binary is reused; a half-built one never
# is (binaries are built under a temp name and moved into place).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../env.sh
source "$here/../env.sh"
need go "to build the test components from the Go module proxy (Go >= 1.21)"
version=$(sed -n "s|^require k8s.io/kubernetes \(v[0-9.]*\).*|\1|p" "$here/go.mod")
[ -n "$version" ] || { echo "kube/build.sh: no k8s.io/kubernetes version in go.mod" >&2; exit 1; }
bin="$AUDITREADY_CACHE/kube-$version/bin"
mkdir -p "$bin"

build() { # build <command> <output name>
  local out="$bin/$2"
  [ -x "$out" ] && return 0
  echo "kube/build.sh: building $2 $version (first run only; a few minutes on 2 cores)" >&2
  local start=$SECONDS
  (cd "$here" && go build -trimpath -tags=selinux,notest,grpcnotrace \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$version" | cut -d. -f2)" \
    -o "$out.tmp" "k8s.io/kubernetes/cmd/$1")
  mv "$out.tmp" "$out"
  echo "kube/build.sh: built $2 in $((SECONDS - start))s" >&2
}
for cmd in kube-apiserver kubectl kube-scheduler kube-controller-manager kube-proxy kubelet; do
  build "$cmd" "$cmd"
done
echo "$bin"
