# e2e/lib.sh - helpers for e2e cases (sourced; `set -euo pipefail` is on)
#
# A case is a plain bash script. It makes namespaces with e2e_ns, starts
# reloadd with e2e_start_reloadd (stopped by PID when the case ends), and
# asserts with e2e_wait / e2e_fail. Everything a case starts is stopped by
# PID; every namespace it made is deleted.

E2E_PIDS=()
# Exit status of a case that cannot run where it is (e2e_needs); e2e/run.sh
# counts it as skipped, not failed.
E2E_SKIP_CODE=77

e2e_log() { echo "[$(date -u +%H:%M:%S)] $*"; }
e2e_fail() { echo "FAIL: $*" >&2; exit 1; }
# A reloadd log line (logfmt, logrus's time="…" first) on stdin -> epoch milliseconds.
e2e_log_ms() {
    local ts
    ts=$(sed -n 's/^time="\([^"]*\)".*/\1/p')
    [ -n "$ts" ] || return 1
    date -u -d "${ts/T/ }" +%s%3N
}

e2e_case_begin() {
    E2E_CASE=$1
    E2E_DIR=$E2E_ARTIFACTS/$E2E_CASE
    mkdir -p "$E2E_DIR"
    trap e2e_cleanup EXIT
}

e2e_case_end() { :; }

e2e_cleanup() {
    local rc=$? pid ns
    for pid in "${E2E_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${E2E_PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ $rc -eq 0 ] && grep -l "Sanitizer" "$E2E_DIR"/reloadd-*.log >/dev/null 2>&1; then
        echo "FAIL: a sanitizer reported an error in $(grep -l Sanitizer "$E2E_DIR"/reloadd-*.log)" >&2
        rc=1
    fi
    if [ $rc -ne 0 ] && [ $rc -ne "$E2E_SKIP_CODE" ]; then
        for f in "$E2E_DIR"/*.log; do
            [ -f "$f" ] || continue
            echo "--- last lines of $f" >&2
            tail -25 "$f" >&2
        done
    fi
    # Listed in a file: e2e_ns runs in the $(...) of its caller, a subshell.
    if [ -f "$E2E_DIR/namespaces" ]; then
        while read -r ns; do
            kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
        done <"$E2E_DIR/namespaces"
    fi
    exit $rc
}

# e2e_needs FACILITY... : at the top of a case, what it needs besides the
# cluster's API. The local control plane (tools/cluster, E2E_PLATFORM unset
# or "local") has every facility, and this only checks the names. On kind
# (E2E_PLATFORM=kind, set by e2e/kind/run.sh) reloadd is a pod of the Helm
# chart behind e2e/kind/reloadd-chart.sh: a case that needs what kind lacks
# prints "SKIP <case>: <reason>" and exits E2E_SKIP_CODE, which e2e/run.sh
# counts as skipped.
#   audit-log      the API server's audit log of reloadd's writes (e2e_writes,
#                  e2e_settled, e2e_expect_rolled, e2e_audit_single_writer);
#                  kind: when e2e/kind/run.sh created the cluster with it
#   host-loopback  reloadd reaches a receiver listening on the host's
#                  127.0.0.1; kind: through a relay on the address of the host
#                  that the pods reach (E2E_KIND_HOST_ADDR)
#   server=VER     the API server is version VER; kind: if the node image is
#   proc           reloadd's /proc (its memory) is the suite's to read
#   signals        the suite stops, continues or kills reloadd by signal
#                  (SIGSTOP, SIGCONT, SIGKILL); SIGTERM is fine everywhere
#   process-env    reloadd runs with environment the case sets (POD_NAME,
#                  POD_NAMESPACE, RELOADER_*), not the chart's
#   cli            the case runs the reloadd CLI (explain) with a kubeconfig
#   replicas       HA replicas started by the case (e2e_start_replica,
#                  e2e_identity): client certificates from the cluster CA,
#                  named by POD_NAME, Lease in namespace reloadd
#   fault-proxy    a relay or fault proxy between reloadd and the API server
#   api-restart    the case stops and starts the API server or etcd
e2e_needs() {
    local f why=() have
    for f in "$@"; do
        case $f in
        audit-log|host-loopback|server=?*|proc|signals|process-env|cli|replicas|fault-proxy|api-restart) ;;
        *) e2e_fail "e2e_needs: unknown facility '$f'" ;;
        esac
    done
    [ "${E2E_PLATFORM:-local}" != local ] || return 0
    [ "$E2E_PLATFORM" = kind ] || e2e_fail "e2e_needs: unknown E2E_PLATFORM '$E2E_PLATFORM'"
    for f in "$@"; do
        case $f in
        audit-log) [ "${E2E_KIND_AUDIT:-}" = 1 ] ||
            why+=("needs the API server's audit log, which this kind cluster does not keep for namespace ${RELOADD_E2E_NAMESPACE:-?} (e2e/kind/run.sh sets it up only in a cluster it creates: delete the cluster or use another KIND_CLUSTER)") ;;
        host-loopback) [ -n "${E2E_KIND_HOST_ADDR:-}" ] ||
            why+=("its receivers listen on the host's loopback and no address of the host that the pods reach is known (set E2E_KIND_HOST_ADDR)") ;;
        server=*)
            have=$(kubectl version -o json 2>/dev/null | jq -r '.serverVersion.gitVersion // "unknown"')
            [ "$have" = "${f#server=}" ] ||
                why+=("pins the API server version of tools/cluster, ${f#server=}, and this cluster runs $have (KIND_NODE_IMAGE=kindest/node:${f#server=} runs it)") ;;
        proc) why+=("reads reloadd's memory in /proc, and on kind reloadd is a pod, not a local process") ;;
        signals) why+=("stops, continues or kills reloadd by signal, and on kind the signal reaches the stand-in script, not the pod") ;;
        process-env) why+=("starts reloadd with its own POD_NAME, POD_NAMESPACE or RELOADER_* environment, which the chart sets from the pod") ;;
        cli) why+=("runs the reloadd CLI with a local kubeconfig") ;;
        replicas) why+=("starts HA replicas under client certificates from the local control plane's CA, named by POD_NAME, with the Lease in namespace reloadd; chart pods are named by Kubernetes and use their ServiceAccount") ;;
        fault-proxy) why+=("puts a relay or fault proxy of its own between reloadd and the API server") ;;
        api-restart) why+=("stops and starts the API server and etcd of tools/cluster") ;;
        esac
    done
    [ ${#why[@]} -gt 0 ] || return 0
    local reason
    reason=$(printf '%s; ' "${why[@]}")
    reason=${reason%; }
    echo "SKIP $E2E_CASE: $reason"
    printf '%s\n' "$reason" >"$E2E_DIR/skip"
    exit "$E2E_SKIP_CODE"
}

# The API server's audit log (JSON lines), or its lines holding FIXED (a
# fixed string). On kind it is read from the control-plane node's container.
e2e_audit_log() { # [fixed]
    if [ "${E2E_PLATFORM:-local}" = kind ]; then
        if [ $# -gt 0 ]; then
            docker exec "$E2E_KIND_NODE" grep -F -- "$1" "$E2E_KIND_AUDIT_LOG"
        else
            docker exec "$E2E_KIND_NODE" cat "$E2E_KIND_AUDIT_LOG"
        fi
    elif [ $# -gt 0 ]; then
        grep -F -- "$1" "$RELOADD_CLUSTER_DIR/logs/audit.log"
    else
        cat "$RELOADD_CLUSTER_DIR/logs/audit.log"
    fi
}

# Makes a fresh namespace and prints its name.
e2e_ns() {
    local ns="e2e-${1:-t}-$(openssl rand -hex 3)"
    kubectl create namespace "$ns" >/dev/null
    echo "$ns" >>"$E2E_DIR/namespaces"     # for e2e_cleanup
    echo "$ns"
}

# e2e_wait TIMEOUT_S DESCRIPTION CMD... : polls CMD until it succeeds.
e2e_wait() {
    local t=$1 what=$2; shift 2
    local end=$((SECONDS + t))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < end)) || e2e_fail "timed out after ${t}s waiting for: $what"
        sleep 0.2
    done
}

# Starts reloadd in the background with the controller's identity; extra
# args are passed on. Sets E2E_RELOADD_PID, E2E_RELOADD_PORT (metrics and
# probes) and E2E_EXPLAIN_PORT (/explain); log in $E2E_DIR/reloadd-N.log.
e2e_start_reloadd() {
    local n=${#E2E_PIDS[@]} port xport
    port=$(e2e_free_port)
    xport=$(e2e_free_port)
    # As in a pod: its namespace known, so the workload state is on (docs/reconcile.md).
    POD_NAMESPACE=${POD_NAMESPACE:-reloadd} POD_NAME=${POD_NAME:-reloadd-e2e-$$-$n} \
        "$RELOADD_BIN" --kubeconfig="$RELOADD_CONTROLLER_KUBECONFIG" \
        --metrics-addr="127.0.0.1:$port" --explain-addr="127.0.0.1:$xport" "$@" \
        >"$E2E_DIR/reloadd-$n.log" 2>&1 &
    E2E_RELOADD_PID=$!
    E2E_RELOADD_PORT=$port
    E2E_EXPLAIN_PORT=$xport
    E2E_PIDS+=("$E2E_RELOADD_PID")
    e2e_wait 60 "reloadd /readyz" curl -fsS "http://127.0.0.1:$port/readyz"
}

# Stops reloadd and checks how it went: a graceful stop must exit 0 within
# 10 s, and no sanitizer may have reported anything.
e2e_stop_reloadd() { # pid [signal]
    local pid=$1 sig=${2:-TERM} rc=0
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && e2e_fail "reloadd (pid $pid) did not exit within 10 s of SIG$sig"
    wait "$pid" 2>/dev/null || rc=$?
    if grep -l "Sanitizer" "$E2E_DIR"/reloadd-*.log >/dev/null 2>&1; then
        e2e_fail "a sanitizer reported an error: $(grep -l Sanitizer "$E2E_DIR"/reloadd-*.log)"
    fi
    if [ "$sig" = TERM ] || [ "$sig" = INT ]; then
        [ "$rc" -eq 0 ] || e2e_fail "reloadd exited with status $rc after SIG$sig"
    fi
}

e2e_free_port() {
    local p used
    used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
    while :; do
        p=$((20000 + RANDOM % 30000))
        grep -qx "$p" <<<"$used" || { echo "$p"; return; }
    done
}

# The pod template as compact JSON (what a rollout changes), for comparisons.
e2e_template() { kubectl get -n "$1" "$2" -o json | jq -c '.spec.template'; } # ns kind/name
e2e_generation() { kubectl get -n "$1" "$2" -o jsonpath='{.metadata.generation}'; }

# e2e_apps NS N [SPEC_EXTRA [LABELS_EXTRA]] : Deployments app-1..app-N of 1 replica, auto,
# taking ConfigMap cfg by envFrom; SPEC_EXTRA (yaml flow-map entries, e.g.
# "progressDeadlineSeconds: 15,") goes into their spec, LABELS_EXTRA (e.g.
# ", reloadd.test/never-ready: \"true\"") into their pods' labels.
e2e_apps() {
    local ns=$1 n=$2 spec=${3:-} labels=${4:-} i
    for i in $(seq 1 "$n"); do
        cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: app-$i, annotations: {reloader.stakater.com/auto: "true"}}
spec: {$spec
  replicas: 1,
  selector: {matchLabels: {app: app-$i}},
  template: {
    metadata: {labels: {app: app-$i$labels}},
    spec: {containers: [{name: app, image: registry.invalid/app:1,
                         envFrom: [{configMapRef: {name: cfg}}]}]}}}
---
YAML
    done | kubectl apply -n "$ns" -f - >/dev/null
}

# e2e_deploy NS NAME ANNOTATIONS(yaml flow map) POD_SPEC_EXTRA(yaml, indented 6)
# Makes a 1-replica Deployment whose container "app" gets the extra spec.
e2e_deploy() {
    local ns=$1 name=$2 ann=$3 extra=${4:-}
    kubectl apply -n "$ns" -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $name
  annotations: $ann
spec:
  replicas: 1
  selector: {matchLabels: {app: $name}}
  template:
    metadata: {labels: {app: $name}}
    spec:
$extra
YAML
}

# One YAML document (with its "---") of a 0-replica Deployment NAME with
# reloader.stakater.com/auto whose container takes ConfigMap CM by envFrom;
# for streams of many workloads piped to one kubectl apply.
e2e_auto_deploy_yaml() { # name configmap
    cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  replicas: 0
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      containers:
      - name: app
        image: registry.invalid/app:1
        envFrom: [{configMapRef: {name: $2}}]
---
YAML
}

# A container block for e2e_deploy: name app, plus extra lines (indented 8).
e2e_container() {
    printf '      containers:\n      - name: app\n        image: registry.invalid/app:1\n'
    [ -z "${1:-}" ] || printf '%s\n' "$1"
}

e2e_cm() { # ns name key=value...
    local ns=$1 name=$2; shift 2
    local args=()
    for kv in "$@"; do args+=("--from-literal=$kv"); done
    kubectl create configmap -n "$ns" "$name" "${args[@]}" --dry-run=client -o yaml |
        kubectl apply -n "$ns" -f - >/dev/null
}

e2e_secret() { # ns name key=value...
    local ns=$1 name=$2; shift 2
    local args=()
    for kv in "$@"; do args+=("--from-literal=$kv"); done
    kubectl create secret generic -n "$ns" "$name" "${args[@]}" --dry-run=client -o yaml |
        kubectl apply -n "$ns" -f - >/dev/null
}

# Generations and pod templates of every Deployment, DaemonSet and
# StatefulSet in ns, as "kind/name=generation=<template as compact JSON>"
# lines. A rollout bumps the generation and changes the template; a metadata
# patch (reloadd's record) changes no template, but bumps a Deployment's
# generation too (the API server counts annotation changes of Deployments).
e2e_generations() {
    kubectl get deployments,daemonsets,statefulsets -n "$1" -o json |
        jq -r '.items[] | "\(.kind)/\(.metadata.name)=\(.metadata.generation)=\(.spec.template | tojson)"' | sort
}

# Waits until reloadd has recorded a baseline on every listed workload.
e2e_wait_recorded() { # ns kind/name...
    local ns=$1; shift
    for w in "$@"; do
        e2e_wait 20 "baseline record on $w" e2e_has_record "$ns" "$w"
    done
}
e2e_has_record() { # ns kind/name (a declared kind as plural.group/name)
    local obj kind=${2%%/*}
    obj=$(kubectl get -n "$1" "$2" -o json) || return 1
    jq -e '.metadata.annotations["reloadd.io/applied"] // empty' >/dev/null <<<"$obj" && return 0
    # The store's key of the kind: a declared kind's plural.group, a built-in's Kind in lower case.
    case $kind in *.*) ;; *) kind="" ;; esac
    e2e_state_json | jq -e --argjson o "$obj" --arg kind "$kind" '
        ((if $kind != "" then $kind else ($o.kind | ascii_downcase) end)
         + "_" + $o.metadata.namespace + "_" + $o.metadata.name) as $k
        | ((.[$k] // "") | split(" ")) as $v | ($v | length) >= 3 and $v[0] == $o.metadata.uid' >/dev/null
}

# The workload state (docs/reconcile.md "The workload state"): the data of
# every reloadd-state-NN ConfigMap of reloadd's namespace, merged into one
# JSON object of data key -> "uid rv record". reloadd keeps there the
# record of a workload that never rolled, instead of on the workload.
e2e_state_namespace() { echo "${E2E_LEASE_NAMESPACE:-reloadd}"; }
e2e_state_json() {
    kubectl get configmaps -n "$(e2e_state_namespace)" -l reloadd.io/state=workloads -o json |
        jq -c '[.items[] | .data // {} | to_entries[]] | from_entries'
}

# The records of the Deployments of NS, one line "<name> <record JSON>" each:
# the workload's own annotation, else its entry in the workload state (for
# its uid); "{}" when it has neither.
e2e_records() { # ns
    local state
    state=$(e2e_state_json) || return 1
    kubectl get deployments -n "$1" -o json | jq -r --argjson st "$state" '.items[] |
        ("deployment_" + .metadata.namespace + "_" + .metadata.name) as $k | .metadata.uid as $uid
        | (($st[$k] // "") | split(" ")) as $v
        | (.metadata.annotations["reloadd.io/applied"]
           // (if ($v | length) >= 3 and $v[0] == $uid then ($v[2:] | join(" ")) else null end)
           // "{}") as $r
        | "\(.metadata.name) \($r)"'
}

# The record of Deployment NAME of NS (JSON; "{}" when it has none).
e2e_record_of() { # ns name
    e2e_records "$1" | awk -v n="$2" '$1 == n { $1 = ""; sub(/^ /, ""); print; found = 1 } END { if (!found) print "{}" }'
}

# How many Deployments of NS have a record (their own, or in the workload state).
e2e_recorded_count() { # ns
    e2e_records "$1" | awk '$2 != "{}" { n++ } END { print n + 0 }'
}

# e2e_expect_rolled NS BEFORE_FILE ROLLED... : waits up to 5 s for each
# listed workload's generation to move from BEFORE_FILE, then checks every
# other workload of BEFORE_FILE did not move (after a settle time).
e2e_expect_rolled() {
    local ns=$1 before=$2; shift 2
    local w want=" $* " now deadline
    deadline=$((SECONDS + ${E2E_ROLL_TIMEOUT:-5}))
    for w in "$@"; do
        local old
        old=$(grep "^$w=" "$before" | cut -d= -f2)
        [ -n "$old" ] || e2e_fail "no generation recorded for $w"
        until [ "$(e2e_generation "$ns" "$w")" != "$old" ]; do
            ((SECONDS <= deadline)) || e2e_fail "$w did not roll within ${E2E_ROLL_TIMEOUT:-5} s"
            sleep 0.1
        done
    done
    e2e_settled "$ns" "${E2E_SETTLE:-2.5}" "$@"
    while IFS== read -r w old; do
        local tmpl=${old#*=}
        old=${old%%=*}
        now=$(e2e_generation "$ns" "$w")
        if [[ $want == *" $w "* ]]; then
            [ "$now" = $((old + 1)) ] || e2e_fail "$w rolled $((now - old)) times, want exactly once"
            [ "$(e2e_template "$ns" "$w")" != "$tmpl" ] ||
                e2e_fail "$w was written but its pod template did not change: no rollout"
        else
            [ "$now" = "$old" ] || e2e_fail "$w rolled but should not have (generation $old -> $now)"
        fi
    done <"$before"
}

# e2e_watch_deployments NS FILE : every version of every Deployment of NS
# from now on, in order, into FILE (a background watch, stopped with the
# case, or by e2e_watch_stop). e2e_rollouts_seen FILE NAME TEMPLATE : how many pod templates other
# than TEMPLATE (e2e_template's, before) that watch saw for Deployment NAME:
# its rollouts, each a new template. A Deployment's generation cannot count
# them: the API server bumps it for annotation changes too (reloadd's
# record, its pending mark).
e2e_watch_deployments() { # ns file
    kubectl get deployments -n "$1" --watch-only -o json >"$2" 2>"$2.err" &
    E2E_WATCH_PID=$!
    E2E_PIDS+=("$E2E_WATCH_PID")
    sleep 1                             # the watch is open before what follows
}
# How many Deployments that watch (FILE, stopped) saw marked pending at some version.
e2e_marked_seen() { # file
    jq -n '[inputs | select(.metadata.annotations["reloadd.io/applied"] // "" | contains("\"@pending\""))
        | .metadata.name] | unique | length' "$1"
}
e2e_watch_stop() { kill "$E2E_WATCH_PID" 2>/dev/null || true; wait "$E2E_WATCH_PID" 2>/dev/null || true; }
e2e_rollouts_seen() { # file name template
    # The watch may be writing an object as this reads: the complete ones count.
    { jq -c --arg n "$2" 'select(.metadata.name == $n) | .spec.template' "$1" 2>/dev/null || true; } |
        jq -s --argjson t0 "$3" 'map(select(. != $t0)) | unique | length'
}

# e2e_writes NS [NAME] : how many writes (create, update, patch, delete)
# reloadd's identities have made so far to workloads in NS (or to the one
# named NAME), from the API server's audit log; Events, Leases and
# ConfigMaps (reloadd's meta-info) are not workload writes.
e2e_writes() { # ns [name]
    jq -c --arg ns "$1" --arg name "${2:-}" '
        select(.stage == "ResponseComplete" and (.responseStatus.code // 0) < 300
               and (.verb == "create" or .verb == "update" or .verb == "patch" or .verb == "delete")
               and .objectRef.namespace == $ns
               and (.objectRef.resource as $r | ["events", "leases", "configmaps", "secrets"] | index($r) | not)
               and ($name == "" or .objectRef.name == $name))
        | 1' < <(e2e_audit_log "\"namespace\":\"$1\"") | wc -l
}

# e2e_settled NS [SECONDS [KIND/NAME...]] : once a reload is seen, reloadd
# must stop: no write to the named workloads (default: any workload of NS)
# for SECONDS (default E2E_QUIET, 3). Catches a rollout loop or a record
# rewritten at every reconcile, which "it rolled" alone never sees.
e2e_settled() { # ns [seconds [kind/name...]]
    local ns=$1 quiet=${2:-${E2E_QUIET:-3}} w names=() before=() i
    shift $(($# < 2 ? $# : 2))
    for w in "$@"; do names+=("${w#*/}"); done
    [ ${#names[@]} -gt 0 ] || names=("")
    sleep 0.3                           # the write that was seen is in the log
    for i in "${!names[@]}"; do before[i]=$(e2e_writes "$ns" "${names[i]}"); done
    sleep "$quiet"
    for i in "${!names[@]}"; do
        local after
        after=$(e2e_writes "$ns" "${names[i]}")
        [ "$after" = "${before[i]}" ] ||
            e2e_fail "reloadd kept writing to ${names[i]:-workloads} in $ns after the reload: $((after - before[i])) writes in ${quiet} s"
    done
}

# Mints a controller identity of its own (client certificate signed by the
# cluster CA, user NAME, group reloadd:controllers: the same RBAC as the
# controller) and prints the path of its kubeconfig. The audit log then
# tells the replicas apart.
e2e_identity() { # name
    local n=$1 d=$E2E_DIR/id-$1 P=$RELOADD_CLUSTER_DIR/pki
    mkdir -p "$d"
    openssl req -newkey rsa:2048 -nodes -subj "/O=reloadd:controllers/CN=$n" \
        -keyout "$d/key.pem" -out "$d/csr.pem" 2>/dev/null
    openssl x509 -req -in "$d/csr.pem" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial \
        -days 1 -out "$d/crt.pem" \
        -extfile <(printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n') 2>/dev/null
    kubectl config view --raw --minify --kubeconfig="$RELOADD_CONTROLLER_KUBECONFIG" -o json |
        jq --arg c "$(base64 -w0 "$d/crt.pem")" --arg k "$(base64 -w0 "$d/key.pem")" --arg n "$n" '
            .users[0].name = $n | .contexts[0].context.user = $n |
            .users[0].user = {"client-certificate-data": $c, "client-key-data": $k}' >"$d/kubeconfig"
    echo "$d/kubeconfig"
}

# Starts replica NAME with --enable-ha and its own identity; extra args
# follow. Sets E2E_PID_<NAME> and E2E_PORT_<NAME>; waits for /readyz.
e2e_start_replica() { # name args...
    local n=$1; shift
    local kc port pid
    kc=$(e2e_identity "$n")
    port=$(e2e_free_port)
    POD_NAME=$n POD_NAMESPACE=reloadd "$RELOADD_BIN" --kubeconfig="$kc" --enable-ha \
        --metrics-addr="127.0.0.1:$port" --explain-addr=off "$@" >>"$E2E_DIR/reloadd-$n.log" 2>&1 &
    pid=$!
    E2E_PIDS+=("$pid")
    printf -v "E2E_PID_${n//-/_}" '%s' "$pid"
    printf -v "E2E_PORT_${n//-/_}" '%s' "$port"
    e2e_wait 60 "replica $n /readyz" curl -fsS "http://127.0.0.1:$port/readyz"
}

# The Lease lives in the namespace of reloadd's pods: reloadd (tools/cluster's
# replicas), or the chart's release namespace on kind (E2E_LEASE_NAMESPACE).
e2e_lease_holder() {
    kubectl get lease -n "${E2E_LEASE_NAMESPACE:-reloadd}" "${1:-stakater-reloader-lock}" \
        -o jsonpath='{.spec.holderIdentity}' 2>/dev/null
}

# Checks, from the API server's audit log, that every write reloadd's
# replicas made to a workload was made by the Lease holder of that moment.
# With NS, only writes to workloads in NS count; the Lease is LEASE
# (default stakater-reloader-lock): other tests' replicas elsewhere in the
# cluster, with Leases of their own, are not this test's business.
e2e_audit_single_writer() { # since (RFC3339) [ns [lease]]
    jq -s --arg since "$1" --arg ns "${2:-}" --arg lease "${3:-stakater-reloader-lock}" '
        [ .[] | select(.stageTimestamp >= $since) ] as $ev
        | ($ev | map(select(.objectRef.resource == "leases" and .objectRef.name == $lease
                       and (.verb == "update" or .verb == "create")
                       and .responseStatus.code < 300 and .stage == "ResponseComplete"))
               | map({t: .stageTimestamp, holder: (.requestObject.spec.holderIdentity // "")})
               | sort_by(.t)) as $lease
        | ($ev | map(select(.objectRef.resource != "leases" and .objectRef.resource != "events"
                       and .objectRef.resource != "configmaps"
                       and (.verb == "patch" or .verb == "update" or .verb == "create" or .verb == "delete")
                       and .stage == "ResponseComplete" and .responseStatus.code < 300
                       and ($ns == "" or .objectRef.namespace == $ns)))
               | map({t: .requestReceivedTimestamp, who: .user.username,
                      what: "\(.verb) \(.objectRef.resource)/\(.objectRef.namespace)/\(.objectRef.name)"})) as $writes
        | [ $writes[] as $w
            | ([ $lease[] | select(.t < $w.t) ] | last | .holder // "") as $h
            | select($h != $w.who) | "\($w.t) \($w.who) wrote \($w.what) while the holder was \"\($h)\"" ]
        | {writes: ($writes | length), leaseWrites: ($lease | length), violations: .}
    ' < <(e2e_audit_log)
}

# Raw API calls with the admin identity, for paces kubectl cannot keep.
e2e_admin_curl_setup() {
    local kc=$KUBECONFIG
    kubectl config view --raw --minify -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d >"$E2E_DIR/admin.crt"
    kubectl config view --raw --minify -o jsonpath='{.users[0].user.client-key-data}' | base64 -d >"$E2E_DIR/admin.key"
    chmod 600 "$E2E_DIR/admin.key"
    E2E_API=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}' --kubeconfig="$kc")
}
e2e_admin_curl() { # curl args... path(last)
    local path=${*: -1}
    curl -fsS --cacert "$RELOADD_CLUSTER_CA" --cert "$E2E_DIR/admin.crt" --key "$E2E_DIR/admin.key" \
        "${@:1:$#-1}" "$E2E_API$path" >/dev/null
}

# Starts a fault proxy (e2e/tools/faultproxy.py) in front of the API server
# for controller identity NAME (minted with e2e_identity): it serves
# 127.0.0.1 with a certificate of the cluster CA and forwards with NAME's
# client certificate, so the audit log still tells NAME apart. Writes
# NAME's kubeconfig through the proxy to "$(e2e_identity NAME's path).proxy",
# i.e. $E2E_DIR/id-NAME/kubeconfig.proxy, and logs its writes to
# $E2E_DIR/writes-NAME.jsonl. e2e_fp NAME COMMAND... sends it one command.
e2e_fault_proxy() { # name
    local n=$1 kc lp cp P=$RELOADD_CLUSTER_DIR/pki
    if [ ! -f "$E2E_DIR/proxy.crt" ]; then
        openssl req -newkey rsa:2048 -nodes -subj "/CN=faultproxy" -keyout "$E2E_DIR/proxy.key" \
            -out "$E2E_DIR/proxy.csr" 2>/dev/null
        openssl x509 -req -in "$E2E_DIR/proxy.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial \
            -days 1 -out "$E2E_DIR/proxy.crt" -extfile <(printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n') 2>/dev/null
    fi
    kc=$(e2e_identity "$n")
    lp=$(e2e_free_port) cp=$(e2e_free_port)
    python3 "$(dirname "${BASH_SOURCE[0]}")/tools/faultproxy.py" --name "$n" --listen "$lp" --control "$cp" \
        --upstream "$RELOADD_APISERVER_URL" --ca "$P/ca.crt" --cert "$E2E_DIR/proxy.crt" --key "$E2E_DIR/proxy.key" \
        --client-cert "$E2E_DIR/id-$n/crt.pem" --client-key "$E2E_DIR/id-$n/key.pem" \
        --write-log "$E2E_DIR/writes-$n.jsonl" >>"$E2E_DIR/proxy-$n.log" 2>&1 &
    E2E_PIDS+=("$!")
    echo "$cp" >"$E2E_DIR/ctl-$n"
    jq --arg s "https://127.0.0.1:$lp" '.clusters[0].cluster.server = $s' "$kc" >"$kc.proxy"
    e2e_wait 10 "fault proxy $n listening" bash -c "exec 3<>/dev/tcp/127.0.0.1/$cp"
}
e2e_fp() { # name command... : one line to the proxy's control port; prints the reply
    local fd reply=""
    exec {fd}<>"/dev/tcp/127.0.0.1/$(cat "$E2E_DIR/ctl-$1")"
    shift
    printf '%s\n' "$*" >&"$fd"
    IFS= read -r -t 5 reply <&"$fd" || reply="error: no reply"
    exec {fd}>&-
    echo "$reply"
}
