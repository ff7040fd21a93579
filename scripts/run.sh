#!/usr/bin/env bash
# scripts/run.sh BINARY [ARGS...] - runs reloadd against $KUBECONFIG, or,
# when none is set, against a local control plane started here and stopped
# when reloadd exits (Ctrl-C).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$1; shift

if [ -n "${KUBECONFIG:-}" ]; then
    exec "$bin" "$@"
fi

echo "run: KUBECONFIG is not set; starting a local control plane (tools/cluster up)" >&2
env_lines=$("$root/tools/cluster" up)
eval "$env_lines"
cleanup() { "$root/tools/cluster" down "$RELOADD_CLUSTER_DIR" || true; }
trap cleanup EXIT
echo "run: cluster ready. In another shell:" >&2
echo "$env_lines" | sed 's/^/    /' >&2
# reloadd runs with its own RBAC-limited identity, as it would in a cluster.
"$bin" --kubeconfig="$RELOADD_CONTROLLER_KUBECONFIG" "$@" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' INT TERM
wait $pid || true
wait $pid 2>/dev/null || true
