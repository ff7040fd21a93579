#!/usr/bin/env bash
# tools/bench/run.sh - reloadd's benchmark: generate a cluster, run scenarios
#
#   tools/bench/run.sh --scale small|medium|large|xlarge [--controller 'CMD …'] [--replicas 3]
#                      [--runs 3] [--scenarios S1,S2,S3,S4,S5] [--label NAME] [more: --help]
#
# Uses the cluster of the environment when RELOADD_CLUSTER_DIR is set
# (eval "$(tools/cluster up)"), else brings up a fresh local control plane
# for each run and takes it down afterwards. Prints one JSON line of figures
# per scenario and appends it to docs/bench/results/<scale>.jsonl (--results).
#
# The controller is a command template; placeholders: {kubeconfig} {port}
# {identity} {pod_namespace} {namespaces}. Default: this tree's reloadd,
#   build-bench/reloadd --kubeconfig={kubeconfig} --metrics-addr=127.0.0.1:{port} --restart-budget=0
# (no restart budget: S2 at small scale changes the same sources many times a minute, and the
# figures measure propagation, as Reloader, which has no budget, is measured).
# Any controller that reads Reloader's annotations can be measured the same
# way; figures from its own /metrics are null when it has none.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-python3}
command -v "$python" >/dev/null || { echo "bench: python3 is required" >&2; exit 2; }
command -v openssl >/dev/null || { echo "bench: openssl is required" >&2; exit 2; }

have_controller=0
for a in "$@"; do
    case $a in --controller|--controller=*) have_controller=1 ;; esac
done
args=("$@")
if [ $have_controller -eq 0 ]; then
    bin=${RELOADD_BIN:-$root/build-bench/reloadd}
    if [ ! -x "$bin" ]; then
        echo "bench: building reloadd into build-bench" >&2
        cmake -S "$root" -B "$root/build-bench" -DRL_WERROR=ON >/dev/null
        cmake --build "$root/build-bench" -j"$(nproc)" --target reloadd >/dev/null
        bin=$root/build-bench/reloadd
    fi
    args+=(--controller "$bin --kubeconfig={kubeconfig} --metrics-addr=127.0.0.1:{port} --restart-budget=0")
fi
exec "$python" "$root/tools/bench/bench.py" run "${args[@]}"
