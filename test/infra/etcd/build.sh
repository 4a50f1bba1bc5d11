#!/usr/bin/env bash
# Builds etcd at the version pinned in go.mod into $AUDITREADY_CACHE/etcd-<version>/bin.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../env.sh
source "$here/../env.sh"
need go "to build the test components from the Go module proxy (Go >= 1.21)"
version=$(sed -n "s|^\s*go.etcd.io/etcd/server/v3 \(v[0-9.]*\).*|\1|p" "$here/go.mod" | head -1)
[ -n "$version" ] || { echo "etcd/build.sh: no go.etcd.io/etcd/server/v3 version in go.mod" >&2; exit 1; }
out="$AUDITREADY_CACHE/etcd-$version/bin/etcd"
if [ ! -x "$out" ]; then
  echo "etcd/build.sh: building etcd $version (first run only)" >&2
  start=$SECONDS
  mkdir -p "$(dirname "$out")"
  (cd "$here" && go build -trimpath -ldflags "-s -w" -o "$out.tmp" go.etcd.io/etcd/server/v3)
  mv "$out.tmp" "$out"
  echo "etcd/build.sh: built etcd in $((SECONDS - start))s" >&2
fi
dirname "$out"
