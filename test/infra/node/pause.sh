#!/usr/bin/env bash
# Builds the pod sandbox ("pause") image no registry can give us: a static build of Kubernetes'
# own build/pause/linux/pause.c (from the k8s.io/kubernetes module the kube wrapper pins), in an
# image made by buildah from scratch. Prints the archive path; cached by version.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../env.sh
source "$here/../env.sh"
need gcc "to build the pod sandbox (pause) binary"
need buildah "to build the pause image"
version=$(sed -n "s|^require k8s.io/kubernetes \(v[0-9.]*\).*|\1|p" "$here/../kube/go.mod")
out="$AUDITREADY_CACHE/pause-$version/pause.tar"
if [ ! -f "$out" ]; then
  echo "node/pause.sh: building the pause image from k8s.io/kubernetes $version (first run only)" >&2
  src=$(cd "$here/../kube" && go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  work=$(mktemp -d)
  trap 'buildah --storage-driver vfs --root "$work/root" --runroot "$work/run" rm -a >/dev/null 2>&1; rm -rf "$work"' EXIT
  mkdir -p "$work/rootfs" "$(dirname "$out")"
  gcc -Os -static -DVERSION="$version" -o "$work/rootfs/pause" "$src/build/pause/linux/pause.c"
  strip "$work/rootfs/pause"
  b=(buildah --storage-driver vfs --root "$work/root" --runroot "$work/run")
  ctr=$("${b[@]}" from scratch)
  "${b[@]}" copy "$ctr" "$work/rootfs/pause" /pause >/dev/null
  "${b[@]}" config --entrypoint '["/pause"]' --user 65535:65535 "$ctr"
  "${b[@]}" commit -q --timestamp 0 "$ctr" "docker-archive:$out.tmp:localhost/auditready-pause:$version" >/dev/null
  mv "$out.tmp" "$out"
fi
echo "$out"
