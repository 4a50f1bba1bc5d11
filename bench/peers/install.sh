#!/usr/bin/env bash
# Installs the peers of `npm run bench:peers` from Debian's packages on first use and prints
# where they are, one `name=path` a line on stdout (progress and apt's output on stderr).
# rsyslog, its Kafka output and kcat are installed as packages; syslog-ng conflicts with rsyslog
# as a package, so its two packages are fetched with `apt-get download` and unpacked with
# `dpkg -x` into the cache (its shared libraries are installed as ordinary packages), and run
# from there. Any failure exits non-zero with apt's output: a peer is never silently skipped.
set -euo pipefail
cache="${AUDITREADY_CACHE:-$HOME/.cache/auditready}/peers"
mkdir -p "$cache/debs"
export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }
updated=0
apt_update() {
  [ "$updated" = 1 ] && return
  apt_get update -qq >&2
  updated=1
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
install_missing() {
  local missing=()
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return
  [ "$(id -u)" = 0 ] || { echo "peers/install.sh: need root to install ${missing[*]}" >&2; exit 1; }
  echo "peers/install.sh: installing Debian packages: ${missing[*]}" >&2
  apt_update
  apt_get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

install_missing rsyslog rsyslog-kafka kcat

# syslog-ng: its libraries as packages (the Depends of both packages that are libraries), the
# two packages themselves unpacked into the cache, keyed by version.
version=$(apt-cache policy syslog-ng-core | sed -n 's/^ *Candidate: //p')
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
  apt_update
  version=$(apt-cache policy syslog-ng-core | sed -n 's/^ *Candidate: //p')
fi
[ -n "$version" ] && [ "$version" != "(none)" ] ||
  { echo "peers/install.sh: no syslog-ng-core package in the apt sources" >&2; exit 1; }
dir="$cache/syslog-ng-$version"
if [ ! -f "$dir/.complete" ]; then
  mapfile -t libs < <(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances syslog-ng-core syslog-ng-mod-rdkafka |
    sed -n 's/^  Depends: \(lib[^ <]*\)$/\1/p' | sort -u)
  install_missing "${libs[@]}"
  echo "peers/install.sh: unpacking syslog-ng $version into $dir" >&2
  (cd "$cache/debs" && { ls syslog-ng-core_*.deb syslog-ng-mod-rdkafka_*.deb >/dev/null 2>&1 ||
    { apt_update; apt_get download "syslog-ng-core=$version" "syslog-ng-mod-rdkafka=$version" >&2; }; })
  rm -rf "$dir"
  mkdir -p "$dir"
  for deb in "$cache/debs"/syslog-ng-core_*.deb "$cache/debs"/syslog-ng-mod-rdkafka_*.deb; do
    dpkg -x "$deb" "$dir"
  done
  touch "$dir/.complete"
fi
modules=$(dirname "$(find "$dir" -name 'libkafka.so' -print -quit)")
[ -d "$modules" ] || { echo "peers/install.sh: no kafka module under $dir" >&2; exit 1; }
echo "rsyslogd=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)"
echo "kcat=$(command -v kcat)"
echo "syslogng=$dir/usr/sbin/syslog-ng"
echo "syslogngModules=$modules"
echo "syslogngLibs=$dir/usr/lib/syslog-ng"
echo "syslogngVersion=$version"
