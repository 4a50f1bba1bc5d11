#!/usr/bin/env bash
# Builds or fetches every real test component into the cache (what the integration and e2e
# global setups do on their first run), so a machine can be prepared ahead of time: Kafka's jars,
# the node's Debian packages, etcd, the Kubernetes binaries, helm, the pause image and the
# project's images.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/kafka/fetch.sh" &
kafka=$!
bash "$here/node/packages.sh" >/dev/null
bash "$here/etcd/build.sh"
bash "$here/kube/build.sh"
bash "$here/helm/build.sh"
bash "$here/node/pause.sh"
bash "$here/../../image/build.sh"
wait "$kafka"
