# The workload state (docs/reconcile.md "The workload state"): the records of
# workloads that never rolled live in ConfigMaps reloadd-state-NN of
# reloadd's namespace, not on the workloads.
#  1. A first install writes nothing to a workload (the audit log): 8
#     Deployments get their record in the state; a ninth, whose name is too
#     long for a state key, gets it on itself, as before.
#  2. A restart with nothing changed writes nothing, state included.
#  3. A change made while reloadd was down rolls every dependent once after
#     a restart with --sync-after-restart; the rollouts carry the records,
#     and the batch then removes the state entries; a restart after that
#     writes nothing.
#  4. A crash at every step: reloadd is killed after exactly k of the writes
#     that follow a change (3 rollouts and the state batches that remove
#     their entries, in whatever order they come), for every k; a fault
#     proxy (e2e/tools/faultproxy.py "hold") forwards the first k writes and
#     holds the next one, so the server applied exactly k. After a restart
#     with --sync-after-restart every Deployment has rolled exactly once,
#     and the state holds no entry for them.
e2e_needs audit-log process-env signals fault-proxy
state_ns=$(e2e_state_namespace)

# The state entries of namespace NS (data keys).
state_keys() { e2e_state_json | jq -r --arg ns "$1" 'keys[] | select(split("_")[1] == $ns)'; }
state_count() { state_keys "$1" | wc -l; }
state_count_is() { [ "$(state_count "$1")" = "$2" ]; }  # ns n
recorded_is() { [ "$(e2e_recorded_count "$1")" = "$2" ]; }  # ns n
# The state entries of namespace NS with their values ("uid rv record").
state_of() { e2e_state_json | jq -S --arg ns "$1" 'with_entries(select(.key | split("_")[1] == $ns))'; }

# ---- 1. a first install ---------------------------------------------------
ns=$(e2e_ns state)
e2e_cm "$ns" cfg v=1
long=$(printf 'l%.0s' $(seq 1 230))
{
    for i in $(seq 1 8); do e2e_auto_deploy_yaml "d-$i" cfg; done
    cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: $long, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  replicas: 0
  selector: {matchLabels: {app: long}}
  template:
    metadata: {labels: {app: long}}
    spec:
      containers:
      - name: app
        image: registry.invalid/app:1
        envFrom: [{configMapRef: {name: cfg}}]
YAML
} | kubectl apply -n "$ns" -f - >/dev/null
e2e_start_reloadd --namespaces="$ns" --sync-after-restart
e2e_wait 30 "a record for all 9 Deployments" recorded_is "$ns" 9
e2e_wait 10 "8 entries in the workload state" state_count_is "$ns" 8
e2e_settled "$ns" 3
w=$(e2e_writes "$ns")
e2e_log "first install: $w workload writes (the long-named one's record), $(state_count "$ns") state entries"
[ "$w" = 1 ] || e2e_fail "$w writes to the workloads on a first install, want 1 (only the Deployment whose name is too long for a state key)"
[ "$(e2e_writes "$ns" "$long")" = 1 ] || e2e_fail "the long-named Deployment's record was not written on it"
for i in $(seq 1 8); do
    kubectl get deployment -n "$ns" "d-$i" -o json | jq -e '.metadata.annotations["reloadd.io/applied"] == null' >/dev/null ||
        e2e_fail "d-$i has a record annotation: its baseline was written on it"
done

# ---- 2. a restart with nothing changed ------------------------------------
e2e_stop_reloadd "$E2E_RELOADD_PID"
v0=$(state_of "$ns")
e2e_start_reloadd --namespaces="$ns" --sync-after-restart
e2e_settled "$ns" 3
[ "$(e2e_writes "$ns")" = 1 ] || e2e_fail "a restart with nothing changed wrote to the workloads"
[ "$(state_of "$ns")" = "$v0" ] || e2e_fail "a restart with nothing changed wrote the workload state"
e2e_log "restart, nothing changed: 0 writes (workloads and state)"

# ---- 3. a change made while reloadd was down --------------------------------
e2e_stop_reloadd "$E2E_RELOADD_PID"
e2e_watch_deployments "$ns" "$E2E_DIR/watch3"
declare -A t0
for d in $(seq 1 8 | sed 's/^/d-/') "$long"; do t0[$d]=$(e2e_template "$ns" "deployment/$d"); done
e2e_cm "$ns" cfg v=2
e2e_start_reloadd --namespaces="$ns" --sync-after-restart
e2e_wait 20 "the state entries of $ns removed" state_count_is "$ns" 0
e2e_settled "$ns" 3
e2e_watch_stop
for d in "${!t0[@]}"; do
    n=$(e2e_rollouts_seen "$E2E_DIR/watch3" "$d" "${t0[$d]}")
    [ "$n" = 1 ] || e2e_fail "${d:0:20}…: $n rollouts for the change made while reloadd was down, want 1"
done
[ "$(e2e_writes "$ns")" = 10 ] || e2e_fail "$(($(e2e_writes "$ns") - 1)) writes for 9 rollouts"
e2e_stop_reloadd "$E2E_RELOADD_PID"
e2e_start_reloadd --namespaces="$ns" --sync-after-restart
e2e_settled "$ns" 3
[ "$(e2e_writes "$ns")" = 10 ] || e2e_fail "a restart after the rollouts wrote again"
e2e_stop_reloadd "$E2E_RELOADD_PID"
e2e_log "change while down: 9 rollouts, one each; the state emptied; a restart then wrote nothing"

# ---- 4. a crash at every step ---------------------------------------------
e2e_fault_proxy crash
kc=$E2E_DIR/id-crash/kubeconfig
fp() { e2e_fp crash "$@"; }
held() { fp stats | sed 's/^ok //' | jq -r .held; }
held_some() { [ "$(held)" -ge 1 ]; }
start_proxied() { # ns extra args...
    local cns=$1; shift
    local port
    port=$(e2e_free_port)
    POD_NAME=crash POD_NAMESPACE=$state_ns "$RELOADD_BIN" --kubeconfig="$kc.proxy" --namespaces="$cns" \
        --metrics-addr="127.0.0.1:$port" --explain-addr=off "$@" >>"$E2E_DIR/reloadd-crash.log" 2>&1 &
    CRASH_PID=$!
    E2E_PIDS+=("$CRASH_PID")
    e2e_wait 60 "reloadd /readyz" curl -fsS "http://127.0.0.1:$port/readyz"
}
# Whether every Deployment of NS carries cfg's current hash in its template.
all_rolled() { # ns
    local h
    h=$(kubectl get cm -n "$1" cfg -o json | jq -j '.data | to_entries | map("\(.key)=\(.value)") | sort | join(";")' | sha1sum | cut -c1-40)
    kubectl get deployments -n "$1" -o json | jq -e --arg h "$h" 'all(.items[];
        [.spec.template.spec.containers[0].env[]? | select(.name == "STAKATER_CFG_CONFIGMAP") | .value] == [$h])' >/dev/null
}
# One step: a fresh namespace, 3 Deployments recorded in the state, then a
# change of cfg with the proxy holding every write after the first k (k =
# 99: none held). Sets CRASH_WRITES to the writes it forwarded before the kill.
crash_at() { # k
    local k=$1 cns d n
    local -A tt
    cns=$(e2e_ns crash)
    e2e_cm "$cns" cfg v=1
    for d in a b c; do e2e_auto_deploy_yaml "$d" cfg; done | kubectl apply -n "$cns" -f - >/dev/null
    start_proxied "$cns"
    e2e_wait 20 "3 entries in the workload state" state_count_is "$cns" 3
    sleep 1.5                       # the batch's echo is in the informer: nothing more to write
    for d in a b c; do tt[$d]=$(e2e_template "$cns" "deployment/$d"); done
    e2e_watch_deployments "$cns" "$E2E_DIR/watch-$k"
    case $(fp hold "$k" '/deployments/|/configmaps') in ok*) ;; *) e2e_fail "the fault proxy refused hold" ;; esac
    e2e_cm "$cns" cfg v=2
    if [ "$k" -lt 99 ]; then
        e2e_wait 20 "the write after the first $k held" held_some
    else
        e2e_wait 20 "every Deployment rolled" all_rolled "$cns"
        e2e_wait 20 "the state entries removed" state_count_is "$cns" 0
        sleep 2
    fi
    CRASH_WRITES=$(fp stats | sed 's/^ok //' | jq -r .hold_forwarded)
    kill -KILL "$CRASH_PID"
    wait "$CRASH_PID" 2>/dev/null || true
    fp heal >/dev/null
    # Restarted directly (no fault) with --sync-after-restart: each rolled once in all.
    e2e_start_reloadd --namespaces="$cns" --sync-after-restart
    e2e_wait 20 "every Deployment rolled after the restart" all_rolled "$cns"
    e2e_wait 20 "the state entries removed" state_count_is "$cns" 0
    e2e_settled "$cns" 2
    e2e_watch_stop
    for d in a b c; do
        n=$(e2e_rollouts_seen "$E2E_DIR/watch-$k" "$d" "${tt[$d]}")
        [ "$n" = 1 ] || e2e_fail "killed after $k writes: $d rolled $n times, want 1"
    done
    e2e_stop_reloadd "$E2E_RELOADD_PID"
}
crash_at 99
total=$CRASH_WRITES
e2e_log "a change's writes in all: $total (3 rollouts and the state batches)"
[ "$total" -ge 4 ] || e2e_fail "only $total writes for 3 rollouts and their state batch"
for k in $(seq 0 $((total - 1))); do
    crash_at "$k"
    e2e_log "killed after $k of $total writes ($CRASH_WRITES forwarded): each Deployment rolled once after the restart, the state emptied"
    [ "$CRASH_WRITES" = "$k" ] || e2e_fail "the proxy forwarded $CRASH_WRITES writes, want $k"
done
