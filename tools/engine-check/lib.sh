# shellcheck shell=bash
# tools/engine-check/lib.sh - helpers for the engine measurements (sourced)
#
# Needs a cluster from tools/cluster (`eval "$(tools/cluster up)"`): uses
# KUBECONFIG (admin, for kubectl) and RELOADD_CONTROLLER_KUBECONFIG (the
# controller identity reloadd runs as). RELOADD_BIN picks the binary
# (default build/reloadd). Everything a script starts is stopped by PID;
# every namespace it made is deleted unless KEEP=1.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RELOADD_BIN=${RELOADD_BIN:-$root/build/reloadd}
EC_PIDS=()
EC_NAMESPACES=()
EC_TMP=$(mktemp -d "${TMPDIR:-/tmp}/engine-check.XXXXXX")

ec_log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
ec_die() { echo "engine-check: $*" >&2; exit 2; }

ec_need_cluster() {
    [ -n "${KUBECONFIG:-}" ] && [ -n "${RELOADD_CONTROLLER_KUBECONFIG:-}" ] ||
        ec_die 'no cluster: run eval "$(tools/cluster up)" first'
    command -v kubectl >/dev/null || ec_die "kubectl is not on PATH (tools/cluster env puts it there)"
    [ -x "$RELOADD_BIN" ] || ec_die "no reloadd binary at $RELOADD_BIN (set RELOADD_BIN)"
    kubectl get --raw /readyz >/dev/null || ec_die "the API server is not ready"
}

ec_cleanup() {
    local rc=$? pid ns
    for pid in "${EC_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${EC_PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ "${KEEP:-0}" != 1 ]; then
        for ns in "${EC_NAMESPACES[@]}"; do
            kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
        done
        rm -rf "$EC_TMP"
    else
        ec_log "kept namespaces ${EC_NAMESPACES[*]} and $EC_TMP"
    fi
    exit $rc
}
trap ec_cleanup EXIT

# ec_ns PREFIX: makes a namespace and prints its name.
ec_ns() {
    local ns
    ns="$1-$(openssl rand -hex 3)"
    kubectl create namespace "$ns" >/dev/null
    EC_NAMESPACES+=("$ns")
    echo "$ns"
}

# ec_start_reloadd LOG ARGS...: starts reloadd as the controller identity on
# a free loopback port; sets EC_PID and EC_PORT.
ec_start_reloadd() {
    local log=$1; shift
    "$RELOADD_BIN" --kubeconfig="$RELOADD_CONTROLLER_KUBECONFIG" \
        --metrics-addr=127.0.0.1:0 --explain-addr=off "$@" >"$log" 2>&1 &
    EC_PID=$!
    EC_PIDS+=("$EC_PID")
    EC_PORT=
    for _ in $(seq 1 100); do
        EC_PORT=$(sed -n 's/.*serving .*(port \([0-9]*\)).*/\1/p' "$log" | head -1)
        [ -n "$EC_PORT" ] && break
        kill -0 "$EC_PID" 2>/dev/null || { cat "$log" >&2; ec_die "reloadd exited"; }
        sleep 0.1
    done
    [ -n "$EC_PORT" ] || ec_die "reloadd did not say which port it serves on"
}

ec_stop_reloadd() {
    kill -TERM "$EC_PID" 2>/dev/null || return 0
    for _ in $(seq 1 100); do kill -0 "$EC_PID" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$EC_PID" 2>/dev/null || true
}

# ec_wait TIMEOUT_S WHAT CMD...: polls CMD every 0.2 s.
ec_wait() {
    local t=$1 what=$2; shift 2
    local end=$((SECONDS + t))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < end)) || { echo "engine-check: timed out after ${t}s: $what" >&2; return 1; }
        sleep 0.2
    done
}

ec_ready() { curl -fsS "http://127.0.0.1:$EC_PORT/readyz" >/dev/null; }
ec_metrics() { curl -fsS "http://127.0.0.1:$EC_PORT/metrics"; }

# ec_metric NAME [LABEL-REGEX]: sum of the samples of NAME whose labels match.
ec_metric() {
    ec_metrics | awk -v n="$1" -v re="${2:-}" '
        $1 ~ "^" n "({|$)" && (re == "" || $1 ~ re) { s += $NF; found = 1 }
        END { if (found) printf "%.6f\n", s; else print 0 }'
}

ec_startup_done() {
    awk 'BEGIN { v = ARGV[1]; exit !(v > 0) }' "$(ec_metric reloader_startup_sync_seconds)"
}

ec_rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# ec_ensure_dataset NS: the scale data set of gen-dataset.py in namespace NS
# (10k ConfigMaps, 10k Secrets, 5k Deployments; made if missing, which takes
# ~10-15 minutes on 2 cores). Objects already there are kept.
ec_ensure_dataset() {
    local ns=$1 have dir t0=$SECONDS
    have=$(ec_dataset_counts "$ns")
    [ "$have" = "10000 10000 5000" ] && return 0
    ec_log "data set in $ns: have $have (configmaps secrets deployments); creating the rest"
    kubectl get namespace "$ns" >/dev/null 2>&1 || kubectl create namespace "$ns" >/dev/null
    dir=$EC_TMP/dataset
    python3 "$root/tools/engine-check/gen-dataset.py" "$dir" "$ns"
    # kubectl create goes on past AlreadyExists; only other errors count.
    find "$dir" -name 'batch-*.json' | sort |
        xargs -P 3 -n 1 kubectl create -f 2>&1 >/dev/null | grep -v AlreadyExists >&2 || true
    have=$(ec_dataset_counts "$ns")
    [ "$have" = "10000 10000 5000" ] || ec_die "data set incomplete: $have"
    ec_log "data set ready in $((SECONDS - t0)) s"
}

ec_dataset_counts() {
    local r n out=
    for r in configmaps secrets deployments; do
        n=$(kubectl -n "$1" get "$r" -l engine-check=scale -o name 2>/dev/null | wc -l)
        out="$out $n"
    done
    echo ${out# }
}
