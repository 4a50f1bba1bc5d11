#!/usr/bin/env bash
# Builds or fetches every real test component into the cache (what the integration global
# setup does on its first run), so a machine can be prepared ahead of time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/kafka/fetch.sh" &
kafka=$!
bash "$here/etcd/build.sh"
bash "$here/kube/build.sh"
bash "$here/helm/build.sh"
wait "$kafka"
