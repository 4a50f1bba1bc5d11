# Shared settings for the test/infra scripts: one cache root with the Go caches inside it.
# GOTOOLCHAIN=auto: a Go older than the wrappers' `go` line (1.26) fetches the right toolchain
# through the Go module proxy instead of failing; a new enough Go is used as it is.
export AUDITREADY_CACHE="${AUDITREADY_CACHE:-$HOME/.cache/auditready}"
export GOTOOLCHAIN=auto
export GOMODCACHE="$AUDITREADY_CACHE/go/mod"
export GOCACHE="$AUDITREADY_CACHE/go/build"
export GOFLAGS="-modcacherw"
export CGO_ENABLED=0
mkdir -p "$AUDITREADY_CACHE"

# need <command> <what it is for>: fail at once, saying what to install.
need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "auditready test/infra: '$1' not found on PATH; it is needed $2" >&2
    exit 1
  }
}
