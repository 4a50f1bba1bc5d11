#!/usr/bin/env bash
# Builds helm at the pinned version from the Go module proxy into $AUDITREADY_CACHE/helm-<v>/bin.
# Helm's go.mod has no replace lines, so a plain `go install module@version` works.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../env.sh
source "$here/../env.sh"
need go "to build the test components from the Go module proxy (Go >= 1.21)"
version=v4.3.1
bin="$AUDITREADY_CACHE/helm-$version/bin"
if [ ! -x "$bin/helm" ]; then
  echo "helm/build.sh: building helm $version (first run only)" >&2
  start=$SECONDS
  GOBIN="$bin.tmp" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$version" "helm.sh/helm/v4/cmd/helm@$version"
  mkdir -p "$bin" && mv "$bin.tmp/helm" "$bin/helm" && rmdir "$bin.tmp"
  echo "helm/build.sh: built helm in $((SECONDS - start))s" >&2
fi
echo "$bin"
