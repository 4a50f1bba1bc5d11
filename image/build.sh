#!/usr/bin/env bash
# Builds the two OCI images, reproducibly, into $AUDITREADY_CACHE/images (see README, "The image"):
#   auditready:<version>       Node 24 + production dependencies + the runtime sources; entrypoint
#                              `node /app/bin/auditready.mjs` (operator | sidecar | verify | keys)
#   auditready-demo:<version>  the same Node layer + demo/app.mjs (an app writing combined logs)
# Each is a docker-archive whose RepoTag is <name>:<version>, which `ctr -n k8s.io images import`
# names docker.io/library/<name>:<version>: what a pod asking for <name>:<version> resolves to.
# The same inputs give the same archive, byte for byte: every timestamp is SOURCE_DATE_EPOCH
# (default 0), owners 0:0 (the demo's log folder 1000:1000), modes normalized, no build-host
# label or history. An archive already built from the same inputs (its name carries their hash)
# is reused. Progress goes to stderr; the last two lines on stdout are the archive paths.
#
# Usage: image/build.sh [--no-cache] [--out DIR]
#   --no-cache  build even when the archives for these inputs exist (and replace them)
#   --out DIR   write the archives to DIR instead of $AUDITREADY_CACHE/images
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../test/infra/env.sh
. "$repo/test/infra/env.sh"
out="$AUDITREADY_CACHE/images"
use_cache=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-cache) use_cache=0 ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
    *) echo "image/build.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
say() { echo "image/build.sh: $*" >&2; }
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-0}"

# --- tools: buildah, and npm for the dependencies; apt-get installs what is missing ----------
missing=()
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v ldd >/dev/null 2>&1 || missing+=(libc-bin)
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 ||
    { say "missing ${missing[*]}, and no apt-get to install them with"; exit 1; }
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  say "installing ${missing[*]} with apt-get (waiting up to 10 min for the dpkg lock)"
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >&2
fi

# --- Node: the version test/infra/node.sh pins (npm package node-linux-<arch>), installed into
# the cache when missing; the pinned one even when the system node is new enough, as the image
# carries it.
# shellcheck source=../test/infra/node.sh
AUDITREADY_NODE_PINNED=1 . "$repo/test/infra/node.sh"
node_bin=$(command -v node)
node_version=$(node -p process.versions.node)
# The shared libraries node links (ldd's "=> path" and the loader's own path), real files.
mapfile -t libs < <(ldd "$node_bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)

# --- inputs: what goes into the images, and so into the hash that names the archives --------
name=$(node -p 'require(process.argv[1]).name' "$repo/package.json")
version=$(node -p 'require(process.argv[1]).version' "$repo/package.json")
cd "$repo"
# The runtime sources: tracked and new (not ignored) files; tests stay out.
if git rev-parse --git-dir >/dev/null 2>&1; then
  list_sources() { git ls-files -co --exclude-standard -- "$@"; }
else
  list_sources() { find "$@" -type f; }
fi
mapfile -t sources < <(list_sources bin cli entry operator sidecar package.json |
  grep -v -e '\.test\.ts$' -e '\.d\.mts$' | LC_ALL=C sort -u)
hash=$(
  {
    echo "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH $(uname -m) $(buildah --version)"
    printf '%s\n' "${libs[@]}"
    sha256sum "$node_bin" "${libs[@]}" | cut -d' ' -f1
    sha256sum "${sources[@]}" package-lock.json .npmrc demo/app.mjs image/build.sh
  } | sha256sum | cut -c1-16
)
app_tar="$out/$name-$version-$hash.tar"
demo_tar="$out/$name-demo-$version-$hash.tar"
if [ "$use_cache" = 1 ] && [ -s "$app_tar" ] && [ -s "$demo_tar" ]; then
  say "inputs $hash already built"
  printf '%s\n%s\n' "$app_tar" "$demo_tar"
  exit 0
fi

# --- the three rootfs trees: node, app, demo -------------------------------------------------
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/auditready-image.XXXXXX")
bah=(buildah --storage-driver vfs --root "$work/storage" --runroot "$work/run")
cleanup() {
  "${bah[@]}" rm --all >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

say "inputs $hash: staging Node $node_version, ${#libs[@]} libraries, ${#sources[@]} source files"
install -D -m 0755 "$node_bin" "$work/node/usr/local/bin/node"
for lib in "${libs[@]}"; do install -D -m 0755 "$(realpath "$lib")" "$work/node$lib"; done

passwd_group() { # <dir> <user> <uid>
  mkdir -p "$1/etc" "$1/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\n%s:x:%s:%s:%s:/nonexistent:/sbin/nologin\n' \
    "$2" "$3" "$3" "$2" >"$1/etc/passwd"
  printf 'root:x:0:\n%s:x:%s:\n' "$2" "$3" >"$1/etc/group"
}
passwd_group "$work/app" nonroot 65532
for f in "${sources[@]}"; do install -D -m 0644 "$f" "$work/app/app/$f"; done
cp package-lock.json .npmrc "$work/app/app/"
say "npm ci --omit=dev (the lockfile's production dependencies)"
(cd "$work/app/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error --silent >&2)
rm "$work/app/app/package-lock.json" "$work/app/app/.npmrc"
# Type declarations and source maps are for editors and debuggers, never loaded at run time
# (38 MiB of the 87, mostly @kubernetes/client-node's); licenses and code stay.
find "$work/app/app/node_modules" -type f \
  \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.cts' -o -name '*.d.mts' \) -delete

passwd_group "$work/demo" app 1000
install -D -m 0644 demo/app.mjs "$work/demo/demo/app.mjs"
mkdir -p "$work/demo/var/log" "$work/demo-log" # demo-log: the empty /var/log/app, 1000:1000

# Modes and times from nothing on the build host: dirs 0755, files 0755 if executable else
# 0644, /tmp 1777; every mtime SOURCE_DATE_EPOCH (buildah commit --timestamp sets them again).
for tree in node app demo demo-log; do
  find "$work/$tree" -type d -exec chmod 0755 {} +
  find "$work/$tree" -type f -perm /111 -exec chmod 0755 {} +
  find "$work/$tree" -type f ! -perm /111 -exec chmod 0644 {} +
done
chmod 1777 "$work/app/tmp" "$work/demo/tmp"
find "$work/node" "$work/app" "$work/demo" "$work/demo-log" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# --- buildah: one Node layer, shared, and one layer per image on top --------------------------
commit=(commit --quiet --timestamp "$SOURCE_DATE_EPOCH" --identity-label=false --omit-history)
say "buildah $(buildah --version | awk '{print $3}'): the Node layer"
c=$("${bah[@]}" from --quiet scratch)
"${bah[@]}" copy --quiet --chown 0:0 "$c" "$work/node" / >/dev/null
"${bah[@]}" "${commit[@]}" --rm "$c" localhost/auditready-node-base >/dev/null

labels=(--label "org.opencontainers.image.version=$version"
  --label "org.opencontainers.image.licenses=Apache-2.0")
say "the $name image"
c=$("${bah[@]}" from --quiet localhost/auditready-node-base)
"${bah[@]}" copy --quiet --chown 0:0 "$c" "$work/app" / >/dev/null
"${bah[@]}" config --entrypoint '["/usr/local/bin/node", "/app/bin/auditready.mjs"]' --cmd '' \
  --user 65532:65532 --workingdir /app --env PATH=/usr/local/bin --env NODE_ENV=production \
  --label "org.opencontainers.image.title=$name" "${labels[@]}" "$c"
rm -f "$app_tar.part"
"${bah[@]}" "${commit[@]}" --rm "$c" "docker-archive:$app_tar.part:$name:$version" >/dev/null

say "the $name-demo image"
c=$("${bah[@]}" from --quiet localhost/auditready-node-base)
"${bah[@]}" copy --quiet --chown 0:0 "$c" "$work/demo" / >/dev/null
"${bah[@]}" copy --quiet --chown 1000:1000 "$c" "$work/demo-log" /var/log/app >/dev/null
"${bah[@]}" config --entrypoint '["/usr/local/bin/node", "/demo/app.mjs"]' --cmd '' \
  --user 1000:1000 --workingdir /demo --env PATH=/usr/local/bin --env PORT=8080 \
  --env DEMO_ACCESS_LOG=/var/log/app/access.log --port 8080 \
  --label "org.opencontainers.image.title=$name-demo" "${labels[@]}" "$c"
rm -f "$demo_tar.part"
"${bah[@]}" "${commit[@]}" --rm "$c" "docker-archive:$demo_tar.part:$name-demo:$version" >/dev/null

mv "$app_tar.part" "$app_tar"
mv "$demo_tar.part" "$demo_tar"

# --- sizes: the archive, gzip'd as a registry would store its layers, and the rootfs ---------
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
for t in "$app_tar" "$demo_tar"; do
  gz=$(gzip -n -6 -c "$t" | wc -c)
  say "$(basename "$t"): $(mib "$(stat -c %s "$t")") archive, $(mib "$gz") gzip'd"
done
say "uncompressed: Node layer $(mib "$(du -sb "$work/node" | cut -f1)"), $name layer $(mib "$(du -sb "$work/app" | cut -f1)"), demo layer $(du -sb "$work/demo" | cut -f1) bytes"
printf '%s\n%s\n' "$app_tar" "$demo_tar"
