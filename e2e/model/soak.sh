#!/usr/bin/env bash
# e2e/model/soak.sh RELOADD_BINARY - the model-based test for SOAK_MINUTES
# (default 60) against the cluster in the environment, or against a local
# control plane it starts with tools/cluster up (and stops on exit) when
# KUBECONFIG / RELOADD_CLUSTER_DIR are not set. Extra arguments go to run.py.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:?usage: e2e/model/soak.sh RELOADD_BINARY [run.py args...]}
shift
if [ -z "${KUBECONFIG:-}" ] || [ -z "${RELOADD_CLUSTER_DIR:-}" ]; then
    if [ -n "${RELOADD_CLUSTER_DIR:-}" ]; then
        eval "$("$root/tools/cluster" env "$RELOADD_CLUSTER_DIR")"
    else
        env=$("$root/tools/cluster" up)
        eval "$env"
        trap '"$root/tools/cluster" down "$RELOADD_CLUSTER_DIR" >/dev/null 2>&1 || true' EXIT
    fi
fi
[ -n "${RELOADD_CONTROLLER_KUBECONFIG:-}" ] || eval "$("$root/tools/cluster" env "$RELOADD_CLUSTER_DIR")"
minutes=${SOAK_MINUTES:-60}
echo "soak: model-based test for $minutes min against $KUBECONFIG"
python3 "$root/e2e/model/run.py" --binary "$bin" --seconds "$((minutes * 60))" "$@"
