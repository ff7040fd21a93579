# Chaos (issue 13): three replicas with --enable-ha, each talking to the
# API server through its own fault proxy (e2e/tools/faultproxy.py, with
# the replica's own client certificate), 200 Deployments over 100
# ConfigMaps and 50 Secrets (auto and named annotations, one or two
# sources each), about 100 source changes a minute; meanwhile the API
# server is stopped three times (started again 14 s after its SIGTERM: down
# ~20 s with its start-up), etcd is restarted once, and every ~6 s one of: all watches cut (abruptly or as a server
# ends them), a 429 storm on the leader's proxy or on all, the leader's
# proxy gone silent for 6 s, the leader killed (SIGTERM and SIGKILL
# alternating; restarted under the same name, so three replicas stay up).
# Afterwards (e2e/tools/chaos_check.py):
#  - 0 missed: every Deployment's last rollout came after the final version
#    of each of its sources was written (resourceVersions: the pods read
#    that version), and no record-only write recorded a version its pods
#    never read (a change "adopted" without a rollout);
#  - 0 duplicates: from the proxies' write logs (every write with the
#    object the API server answered), every rollout brought some source to
#    a newer version than the pods had; the ReplicaSets and the final
#    templates show no rollout the logs missed;
#  - 0 writes by a replica that did not hold the Lease at that moment (the
#    API server's audit log, e2e_audit_single_writer);
#  - every replica's /readyz (probed each 0.5 s) answered 503 while the API
#    server was down and 200 within 45 s of its return (informers back off
#    up to 30 s +-25%).
# /readyz judges the oldest watch progress (--ready-progress-timeout=5s
# here): the case touches one object of each watched kind every second (a
# "heartbeat"), as a busy cluster would, since an idle watch hears nothing
# for a minute or more (bookmarks) and would be "not ready" at 5 s anyway.
# E2E_CHAOS_SECONDS (default 150) is the length of the change stream; the
# three API server outages and the etcd restart fall at 15%, 45%, 75% and
# 60% of it (or later: each waits for the replicas to be ready again), the
# light faults fill the rest, at least one of each kind (the 10-minute run
# of issue 13: E2E_CHAOS_SECONDS=600). E2E_CHAOS_ARGS: more reloadd flags.
# Found by this case: a leader killed with SIGKILL and restarted under its
# name took its still valid Lease at once and adopted, without a rollout,
# the changes made while it was down, though its peers had watched them
# (32 missed reloads in 10 minutes). A takeover of a Lease its holder did
# not release now rolls them, as --sync-after-restart would
# (rl_reconciler_assume_missed); the case passes with the default flags.
e2e_needs replicas signals fault-proxy api-restart audit-log
ns=$(e2e_ns chaos)
D=${E2E_CHAOS_SECONDS:-150}
tools=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)
since=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
t_case=$SECONDS
replicas=(r0 r1 r2)
lease_args=(--lease-duration=4s --renew-deadline=3s --retry-period=500ms --namespaces="$ns"
    --ready-progress-timeout=5s ${E2E_CHAOS_ARGS:-})
kubectl delete lease -n reloadd stakater-reloader-lock --ignore-not-found >/dev/null
now_ms() { date +%s%3N; }

# ---- the workloads ------------------------------------------------------
# d-i: i%4 = 0 auto + ConfigMap, 1 auto + Secret, 2 named ConfigMap and
# Secret, 3 auto + both. ConfigMaps cm-k with k%4 = 1 are used by nobody
# (their changes must roll nothing).
b64() { printf '%s' "$1" | base64 -w0; }
: >"$E2E_DIR/workloads.tsv"
{
    for k in $(seq 0 99); do
        printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d}\ndata: {v: "0"}\n---\n' "$k"
    done
    for k in $(seq 0 49); do
        printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: sec-%d}\ndata: {v: %s}\n---\n' "$k" "$(b64 0)"
    done
    for i in $(seq 0 199); do
        cm=cm-$((i % 100)) sec=sec-$((i % 50)) ann='{reloader.stakater.com/auto: "true"}'
        case $((i % 4)) in
        0) env="[{configMapRef: {name: $cm}}]" srcs=configmap/$cm ;;
        1) env="[{secretRef: {name: $sec}}]" srcs=secret/$sec ;;
        2) env="[{configMapRef: {name: $cm}}, {secretRef: {name: $sec}}]" srcs=configmap/$cm,secret/$sec
           ann="{configmap.reloader.stakater.com/reload: $cm, secret.reloader.stakater.com/reload: $sec}" ;;
        3) env="[{configMapRef: {name: $cm}}, {secretRef: {name: $sec}}]" srcs=configmap/$cm,secret/$sec ;;
        esac
        printf 'd-%d\t%s\n' "$i" "$srcs" >>"$E2E_DIR/workloads.tsv"
        cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: d-$i, annotations: $ann}
spec:
  replicas: 0
  revisionHistoryLimit: 1000
  selector: {matchLabels: {app: d-$i}}
  template:
    metadata: {labels: {app: d-$i}}
    spec:
      containers:
      - {name: app, image: registry.invalid/app:1, envFrom: $env}
---
YAML
    done
    # The heartbeat: one object of each kind reloadd watches, no annotation.
    pod='{metadata: {labels: {app: hb}}, spec: {nodeSelector: {none: none}, containers: [{name: app, image: registry.invalid/app:1}], restartPolicy: Never}}'
    cat <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: hb}
---
apiVersion: v1
kind: Secret
metadata: {name: hb}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: hb}
spec: {replicas: 0, selector: {matchLabels: {app: hb}}, template: ${pod/Never/Always}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: hb}
spec: {selector: {matchLabels: {app: hb}}, template: ${pod/Never/Always}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: hb}
spec: {replicas: 0, serviceName: hb, selector: {matchLabels: {app: hb}}, template: ${pod/Never/Always}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: hb}
spec: {suspend: true, template: $pod}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: hb}
spec: {suspend: true, schedule: "0 0 1 1 *", jobTemplate: {spec: {template: $pod}}}
---
YAML
} | kubectl apply -n "$ns" -f - >/dev/null

# ---- one fault proxy per replica ----------------------------------------
for r in "${replicas[@]}"; do e2e_fault_proxy "$r"; done
fp() { e2e_fp "$@"; }

# ---- replicas (restarted under the same name) ---------------------------
start_rep() { # name
    local n=$1 port
    port=$(e2e_free_port)
    POD_NAME=$n POD_NAMESPACE=reloadd "$RELOADD_BIN" --kubeconfig="$E2E_DIR/id-$n/kubeconfig.proxy" \
        --enable-ha --metrics-addr="127.0.0.1:$port" --explain-addr=off "${lease_args[@]}" >>"$E2E_DIR/reloadd-$n.log" 2>&1 &
    E2E_PIDS+=("$!")
    printf -v "PID_$n" '%s' "$!"
    echo "$port" >"$E2E_DIR/port-$n.new" && mv "$E2E_DIR/port-$n.new" "$E2E_DIR/port-$n"
}
pid_of() { local v="PID_$1"; echo "${!v}"; }
for r in "${replicas[@]}"; do start_rep "$r"; done
for r in "${replicas[@]}"; do
    e2e_wait 60 "replica $r /readyz" bash -c "curl -fsS http://127.0.0.1:\$(cat $E2E_DIR/port-$r)/readyz"
done
all_recorded() { [ "$(e2e_recorded_count "$ns")" -eq 200 ]; }
e2e_wait 60 "baselines on all 200 Deployments" all_recorded
e2e_settled "$ns" 2
kubectl get deploy -n "$ns" -o json >"$E2E_DIR/deploy0.json"
kubectl get cm -n "$(e2e_state_namespace)" -l reloadd.io/state=workloads -o json >"$E2E_DIR/state0.json"
e2e_log "set up in $((SECONDS - t_case)) s: 200 Deployments recorded; leader $(e2e_lease_holder)"

# ---- background: the writer, the heartbeat, the /readyz probes ----------
e2e_admin_curl_setup
: >"$E2E_DIR/changes"
(
    declare -A ver
    rv_re='"resourceVersion": *"([0-9]+)"'
    next=$(now_ms)
    while [ ! -f "$E2E_DIR/stop-writer" ]; do
        k=$((RANDOM % 150))
        if [ $k -lt 100 ]; then
            src=configmap/cm-$k path=configmaps/cm-$k
        else
            src=secret/sec-$((k - 100)) path=secrets/sec-$((k - 100))
        fi
        v=$((${ver[$src]:-0} + 1))
        val=$v
        [ "${src%%/*}" = secret ] && val=$(b64 "$v")
        # The revision of the change, from the answer: the oracle orders
        # changes and rollouts by it.
        if out=$(curl -fsS -m 5 --cacert "$RELOADD_CLUSTER_CA" --cert "$E2E_DIR/admin.crt" \
            --key "$E2E_DIR/admin.key" -X PATCH -H 'Content-Type: application/merge-patch+json' \
            -d "{\"data\":{\"v\":\"$val\"}}" "$E2E_API/api/v1/namespaces/$ns/$path" 2>/dev/null) &&
            [[ $out =~ $rv_re ]]; then
            ver[$src]=$v
            echo "$(now_ms) $src $v ${BASH_REMATCH[1]}" >>"$E2E_DIR/changes"
        fi
        next=$((next + 600))
        t=$(now_ms)
        if [ $next -gt "$t" ]; then sleep "$(printf '0.%03d' $((next - t)))"; else next=$t; fi
    done
) &
writer=$!
E2E_PIDS+=("$writer")
(
    n=0
    paths=(api/v1/namespaces/$ns/configmaps/hb api/v1/namespaces/$ns/secrets/hb
        apis/apps/v1/namespaces/$ns/deployments/hb apis/apps/v1/namespaces/$ns/daemonsets/hb
        apis/apps/v1/namespaces/$ns/statefulsets/hb apis/batch/v1/namespaces/$ns/jobs/hb
        apis/batch/v1/namespaces/$ns/cronjobs/hb)
    while [ ! -f "$E2E_DIR/stop-heartbeat" ]; do
        n=$((n + 1))
        args=()
        for p in "${paths[@]}"; do
            [ ${#args[@]} -eq 0 ] || args+=(--next)
            args+=(-sS -o /dev/null -m 2 --cacert "$RELOADD_CLUSTER_CA" --cert "$E2E_DIR/admin.crt"
                --key "$E2E_DIR/admin.key" -X PATCH -H 'Content-Type: application/merge-patch+json'
                -d "{\"metadata\":{\"annotations\":{\"hb\":\"$n\"}}}" "$E2E_API/$p")
        done
        curl "${args[@]}" 2>/dev/null || true
        sleep 1
    done
) &
E2E_PIDS+=("$!")
heartbeat=$!
(
    while [ ! -f "$E2E_DIR/stop-probes" ]; do
        urls=()
        for r in "${replicas[@]}"; do urls+=(-o /dev/null "http://127.0.0.1:$(cat "$E2E_DIR/port-$r")/readyz"); done
        t=$(now_ms)
        codes=$(curl -s -w '%{http_code}\n' --connect-timeout 1 -m 1 "${urls[@]}" 2>/dev/null || true)
        i=0
        while read -r c; do
            echo "$t ${replicas[i]} $c"
            i=$((i + 1))
        done <<<"$codes" >>"$E2E_DIR/readyz.log"
        sleep 0.5
    done
) &
E2E_PIDS+=("$!")
probes=$!

# ---- the faults -----------------------------------------------------------
: >"$E2E_DIR/faults"
fault() { # start_ms kind detail...
    local t0=$1; shift
    echo "$t0 $(now_ms) $*" >>"$E2E_DIR/faults"
    e2e_log "fault: $*"
}
leader_now() { # the holder, waiting up to 15 s for one
    local h="" end=$((SECONDS + 15))
    while [ -z "$h" ] && [ $SECONDS -lt $end ]; do
        h=$(e2e_lease_holder || true)
        [ -n "$h" ] || sleep 0.5
    done
    echo "$h"
}
kills=0
kill_leader() {
    local sig=TERM leader t0
    [ $((kills % 2)) -eq 1 ] && sig=KILL
    leader=$(leader_now)
    [ -n "$leader" ] || e2e_fail "no leader for 15 s (at leader kill $((kills + 1)))"
    t0=$(now_ms)
    if [ $sig = TERM ]; then
        e2e_stop_reloadd "$(pid_of "$leader")" TERM       # exits 0 within 10 s
    else
        kill -KILL "$(pid_of "$leader")"
        wait "$(pid_of "$leader")" 2>/dev/null || true
    fi
    start_rep "$leader"
    kills=$((kills + 1))
    fault "$t0" leader-kill "SIG$sig $leader"
}
all_ready() {
    local r
    for r in "${replicas[@]}"; do
        curl -fsS -m 1 -o /dev/null "http://127.0.0.1:$(cat "$E2E_DIR/port-$r")/readyz" 2>/dev/null || return 1
    done
}
apiserver_outage() {
    # tools/cluster stop sends SIGTERM (the API server stops answering at
    # once) and SIGKILL 10 s later if it is still draining its watches; it
    # is started again 14 s after the SIGTERM. Then the next fault waits
    # for every replica to be ready again (up to 45 s: an informer backs
    # off up to 30 s +-25% between failed attempts).
    local t0 t1 el
    t0=$(now_ms)
    "$RELOADD_TOOLS/cluster" stop kube-apiserver "$RELOADD_CLUSTER_DIR"
    el=$(($(now_ms) - t0))
    [ $el -ge 14000 ] || sleep "$(((14000 - el) / 1000)).$(printf '%03d' $(((14000 - el) % 1000)))"
    "$RELOADD_TOOLS/cluster" start kube-apiserver "$RELOADD_CLUSTER_DIR"
    t1=$(now_ms)
    fault "$t0" apiserver-restart "down $(((t1 - t0) / 1000)) s"
    local end=$((SECONDS + 45))
    until all_ready || [ $SECONDS -ge $end ]; do sleep 0.5; done
    e2e_log "  every replica ready again $((($(now_ms) - t1) / 1000)) s after the API server's return"
}
etcd_restart() {
    local t0
    t0=$(now_ms)
    "$RELOADD_TOOLS/cluster" restart etcd "$RELOADD_CLUSTER_DIR"
    fault "$t0" etcd-restart ""
}
light=0
light_fault() {
    local t0 leader r
    t0=$(now_ms)
    case $((light % 7)) in
    0 | 3) kill_leader ;;
    1) leader=$(leader_now)
       [ -n "$leader" ] && fp "$leader" storm 100 6 >/dev/null
       fault "$t0" 429-storm "100% 6 s on $leader's proxy"
       sleep 6 ;;
    2) for r in "${replicas[@]}"; do fp "$r" cut >/dev/null; done; fault "$t0" watch-cut "all proxies" ;;
    4) for r in "${replicas[@]}"; do fp "$r" storm 50 6 >/dev/null; done
       fault "$t0" 429-storm "50% 6 s on all proxies"
       sleep 6 ;;
    5) leader=$(leader_now)
       [ -n "$leader" ] && fp "$leader" silent >/dev/null
       sleep 6
       [ -n "$leader" ] && fp "$leader" heal >/dev/null
       fault "$t0" silence "6 s on $leader's proxy" ;;
    6) for r in "${replicas[@]}"; do fp "$r" cut clean >/dev/null; done; fault "$t0" watch-cut "all proxies, ended cleanly" ;;
    esac
    light=$((light + 1))
}

# The heavy faults at their share of D, each 10 s after the one before at
# the earliest and 5 s after a light fault (a replica just restarted is up);
# light faults every 6 s in between, at least one of each kind.
heavy_at=($((D * 15 / 100)) $((D * 45 / 100)) $((D * 60 / 100)) $((D * 75 / 100)))
heavy_do=(apiserver_outage apiserver_outage etcd_restart apiserver_outage)
gap=6
t_start=$SECONDS
next_light=4 h=0 light_end=0 heavy_end=0
while [ $((SECONDS - t_start)) -lt "$D" ] || [ $h -lt ${#heavy_do[@]} ] || [ $light -lt 7 ]; do
    el=$((SECONDS - t_start))
    if [ $h -lt ${#heavy_do[@]} ] && [ "$el" -ge "${heavy_at[h]}" ] &&
        [ $((SECONDS - light_end)) -ge 5 ] && [ $((SECONDS - heavy_end)) -ge 10 ]; then
        ${heavy_do[h]}
        h=$((h + 1))
        heavy_end=$SECONDS
        next_light=$((SECONDS - t_start + 3))
    elif [ "$el" -ge $next_light ] && { [ "$el" -lt $((D - 5)) ] || [ $light -lt 7 ]; }; then
        light_fault
        light_end=$SECONDS
        next_light=$((SECONDS - t_start + gap))
    else
        sleep 0.5
    fi
done
for r in "${replicas[@]}"; do fp "$r" heal >/dev/null; done
touch "$E2E_DIR/stop-writer"
wait "$writer" 2>/dev/null || true
changes=$(wc -l <"$E2E_DIR/changes")
e2e_log "$changes changes in $((SECONDS - t_start)) s; faults: $(cut -d' ' -f3 "$E2E_DIR/faults" | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')"

# ---- afterwards --------------------------------------------------------
for r in "${replicas[@]}"; do
    e2e_wait 60 "replica $r /readyz after the chaos" bash -c "curl -fsS http://127.0.0.1:\$(cat $E2E_DIR/port-$r)/readyz"
done
snapshot() {
    kubectl get deploy -n "$ns" -o json >"$E2E_DIR/deploy.json"
    kubectl get cm -n "$(e2e_state_namespace)" -l reloadd.io/state=workloads -o json >"$E2E_DIR/state.json"
    kubectl get cm -n "$ns" -o json >"$E2E_DIR/cm.json"
    kubectl get secret -n "$ns" -o json >"$E2E_DIR/secret.json"
}
converged() { snapshot && python3 "$tools/chaos_check.py" missed "$E2E_DIR" >/dev/null; }
t_settle=$SECONDS
until converged || [ $((SECONDS - t_settle)) -ge 90 ]; do sleep 1; done
if converged; then
    e2e_log "converged $((SECONDS - t_settle)) s after the last change"
else
    e2e_log "NOT converged 90 s after the last change (missed reloads: below)"
fi
e2e_settled "$ns" 3
snapshot
kubectl get rs -n "$ns" -o json >"$E2E_DIR/rs.json"
touch "$E2E_DIR/stop-heartbeat" "$E2E_DIR/stop-probes"
wait "$heartbeat" "$probes" 2>/dev/null || true
for r in "${replicas[@]}"; do echo "$r $(fp "$r" stats)"; done >"$E2E_DIR/proxy-stats"

rc=0
python3 "$tools/chaos_check.py" rollouts "$E2E_DIR" >"$E2E_DIR/rollouts.out" || rc=1
python3 "$tools/chaos_check.py" readyz "$E2E_DIR" >"$E2E_DIR/readyz.out" || rc=1
audit=$(e2e_audit_single_writer "$since" "$ns")
echo "$audit" >"$E2E_DIR/audit.json"

e2e_log "figures ($D s of changes, case total $((SECONDS - t_case)) s):"
e2e_log "  changes: $changes ($(grep -c ' configmap/' "$E2E_DIR/changes") ConfigMap, $(grep -c ' secret/' "$E2E_DIR/changes") Secret)"
e2e_log "  faults: $(cut -d' ' -f3 "$E2E_DIR/faults" | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')"
e2e_log "  rollouts: $(head -1 "$E2E_DIR/rollouts.out")"
e2e_log "  proxies: $(while read -r r _ s; do printf '%s %s ' "$r" "$(jq -c '{requests, refused429, watches, watches_cut, silences}' <<<"$s")"; done <"$E2E_DIR/proxy-stats")"
e2e_log "  audit: $(jq -c '{writes, leaseWrites, violations: (.violations | length)}' <<<"$audit")"
e2e_log "  readyz: $(head -1 "$E2E_DIR/readyz.out")"
grep '^READYZ' "$E2E_DIR/readyz.out" | sed 's/^/    /'
grep -h '^MISSED\|^PROBLEM' "$E2E_DIR/rollouts.out" "$E2E_DIR/readyz.out" | head -20 >&2 || true
[ "$(jq '.violations | length' <<<"$audit")" -eq 0 ] ||
    e2e_fail "writes by a non-holder: $(jq -r '.violations[]' <<<"$audit" | head -5)"
[ "$(jq '.writes' <<<"$audit")" -gt 0 ] || e2e_fail "the audit log shows no workload write at all"
[ $rc -eq 0 ] || e2e_fail "missed or duplicate rollouts, or /readyz did not follow the outages (above; $E2E_DIR/rollouts.out, readyz.out)"
