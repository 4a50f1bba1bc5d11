# Shared settings for the test/infra scripts: one cache root, Go caches inside it, no toolchain
# downloads (the machine's Go is used as it is).
export AUDITREADY_CACHE="${AUDITREADY_CACHE:-$HOME/.cache/auditready}"
export GOTOOLCHAIN=local
export GOMODCACHE="${GOMODCACHE_OVERRIDE:-$AUDITREADY_CACHE/go/mod}"
export GOCACHE="$AUDITREADY_CACHE/go/build"
export GOFLAGS="-modcacherw"
export CGO_ENABLED=0
mkdir -p "$AUDITREADY_CACHE"
