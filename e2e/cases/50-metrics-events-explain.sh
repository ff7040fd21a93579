# The operations surface after a scripted scenario: /metrics parses
# strictly and its counters move by exactly N after N reloads; one Event
# "Reloaded" per rollout, with Reloader's text; /explain and
# `reloadd explain` agree on a reloaded, a skipped and an ignored workload;
# the reloader-meta-info ConfigMap is published.
e2e_needs process-env cli replicas audit-log
ns=$(e2e_ns ops)
N=3

# tools/promcheck: the strict parser of tests/support as a CLI, a CMake
# target of the same build as the reloadd under test (build/tools/), else
# built here from the source tree.
promcheck=$(dirname "$RELOADD_BIN")/tools/promcheck
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." 2>/dev/null && pwd || true)
[ -f "$src/tools/promcheck.c" ] || src=$(git rev-parse --show-toplevel)
if [ ! -x "$promcheck" ]; then
    cmake -S "$src" -B "$E2E_DIR/build" -DRL_TESTS=OFF >/dev/null &&
        cmake --build "$E2E_DIR/build" --target promcheck -j2 >/dev/null ||
        e2e_fail "cannot build promcheck"
    promcheck=$E2E_DIR/build/tools/promcheck
fi

e2e_cm "$ns" cfg v=0
e2e_cm "$ns" cfg-ignored v=0
kubectl annotate configmap -n "$ns" cfg-ignored reloader.stakater.com/ignore=true >/dev/null
e2e_deploy "$ns" reloaded '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        envFrom: [{configMapRef: {name: cfg}}]')"
e2e_deploy "$ns" skipped '{reloader.stakater.com/auto: "false"}' "$(e2e_container '        envFrom: [{configMapRef: {name: cfg}}]')"
e2e_deploy "$ns" ignored '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        envFrom: [{configMapRef: {name: cfg-ignored}}]')"

RELOADER_NAMESPACE=reloadd RELOADER_DEPLOYMENT_NAME=reloadd-e2e \
    e2e_start_reloadd --namespaces="$ns" --coalesce-window=200ms
port=$E2E_RELOADD_PORT
e2e_wait_recorded "$ns" Deployment/reloaded

scrape() { curl -fsS "http://127.0.0.1:$port/metrics" >"$1" && "$promcheck" "$1" >/dev/null; }
value() { "$promcheck" "$1" "$2"; }
delta() { # file0 file1 sample -> integer difference (absent counts as 0)
    local a b
    a=$(value "$1" "$3"); b=$(value "$2" "$3")
    [ "$a" = NA ] && a=0; [ "$b" = NA ] && b=0
    awk -v a="$a" -v b="$b" 'BEGIN { printf "%d", b - a }'
}
expect_delta() { # file0 file1 sample want
    local d
    d=$(delta "$1" "$2" "$3")
    [ "$d" = "$4" ] || e2e_fail "$3 moved by $d, want $4"
    e2e_log "$3 +$d"
}

scrape "$E2E_DIR/m0.prom" || e2e_fail "the first scrape does not parse: $("$promcheck" "$E2E_DIR/m0.prom" 2>&1)"
gen=$(e2e_generation "$ns" Deployment/reloaded)
for i in $(seq 1 $N); do
    e2e_cm "$ns" cfg v=$i
    e2e_wait 10 "rollout $i" bash -c "[ \"\$(kubectl get -n $ns deployment/reloaded -o jsonpath='{.metadata.generation}')\" -ge $((gen + i)) ]"
done
e2e_settled "$ns" 2 Deployment/reloaded
[ "$(e2e_generation "$ns" Deployment/reloaded)" = $((gen + N)) ] || e2e_fail "reloaded did not roll exactly $N times"
events() { kubectl get events -n "$ns" --field-selector "involvedObject.name=$1,reason=Reloaded" -o json; }
e2e_wait 10 "$N Reloaded events" bash -c "[ \"\$(kubectl get events -n $ns --field-selector involvedObject.name=reloaded,reason=Reloaded -o json | jq '.items | length')\" = $N ]"
scrape "$E2E_DIR/m1.prom" || e2e_fail "the scrape after $N reloads does not parse: $("$promcheck" "$E2E_DIR/m1.prom" 2>&1)"

m0=$E2E_DIR/m0.prom m1=$E2E_DIR/m1.prom
expect_delta "$m0" "$m1" 'reloader_reload_executed_total{success=true}' $N
expect_delta "$m0" "$m1" 'reloader_reload_executed_total{success=false}' 0
expect_delta "$m0" "$m1" 'reloader_action_total{workload_kind=Deployment,result=success}' $N
expect_delta "$m0" "$m1" 'reloader_action_latency_seconds_count{workload_kind=Deployment}' $N
expect_delta "$m0" "$m1" 'reloader_workloads_matched_total{kind=Deployment}' $N
expect_delta "$m0" "$m1" 'reloader_reconcile_latency_seconds_count' $N
expect_delta "$m0" "$m1" 'reloader_events_received_total{event_type=update,resource_type=configmaps}' $N
expect_delta "$m0" "$m1" 'reloader_events_processed_total{event_type=update,resource_type=configmaps,result=success}' $N
expect_delta "$m0" "$m1" 'reloader_notifications_total{kind=event,result=sent}' $N
expect_delta "$m0" "$m1" 'reloader_errors_total{type=handler_error}' 0
# As Reloader counts them: a reconcile per source event (not per workload, nor
# for the Deployment updates a rollout causes), and per event every workload
# of each kind in the source's namespace "scanned" (three Deployments here).
expect_delta "$m0" "$m1" 'reloader_reconcile_total{result=success}' $N
expect_delta "$m0" "$m1" 'reloader_reconcile_total{result=error}' 0
expect_delta "$m0" "$m1" 'reloader_reconcile_duration_seconds_count{result=success}' $N
expect_delta "$m0" "$m1" 'reloader_workloads_scanned_total{kind=Deployment}' $((3 * N))
expect_delta "$m0" "$m1" 'reloader_workloads_scanned_total{kind=DaemonSet}' 0
[ "$(delta "$m0" "$m1" 'reloader_workqueue_adds_total')" -ge $N ] || e2e_fail "workqueue adds did not move"
[ "$(delta "$m0" "$m1" 'reloader_workqueue_latency_seconds_count')" -ge $N ] || e2e_fail "workqueue latency not observed"
[ "$(value "$m1" 'reloader_cached_objects{kind=deployments}')" = 3 ] || e2e_fail "cached deployments is not 3"
[ "$(value "$m1" 'reloader_cached_objects{kind=configmaps}')" -ge 2 ] || e2e_fail "cached configmaps below 2"
[ "$(value "$m1" 'reloader_is_leader')" = 1 ] || e2e_fail "reloader_is_leader is not 1"
[ "$(value "$m1" 'reloader_startup_sync_seconds')" != NA ] || e2e_fail "no startup sync gauge"
[ "$(value "$m1" 'process_resident_memory_bytes')" != NA ] || e2e_fail "no process_resident_memory_bytes"
p50=$(awk '/^reloader_reconcile_latency_seconds_sum/ {s=$2} /^reloader_reconcile_latency_seconds_count/ {c=$2} END {printf "%.3f", s/c}' "$m1")
e2e_log "mean reload latency (source event -> write) $p50 s over $N reloads"

e2e_log "Events: exactly one Reloaded per rollout, Reloader's text"
ev=$(events reloaded)
echo "$ev" >"$E2E_DIR/events.json"
[ "$(jq '[.items[] | select(.type == "Normal" and .source.component == "reloader-configmaps" and .reportingComponent == "reloader-configmaps" and .involvedObject.kind == "Deployment" and .involvedObject.uid != null)] | length' <<<"$ev")" = $N ] ||
    e2e_fail "Reloaded events lack type/source/involvedObject: $(jq -c '.items[0]' <<<"$ev")"
want="Changes detected in 'cfg' of type 'CONFIGMAP' in namespace '$ns', Updated 'reloaded' of type 'Deployment' in namespace '$ns'"
[ "$(jq -r '.items[0].message' <<<"$ev")" = "$want" ] || e2e_fail "event message is $(jq -r '.items[0].message' <<<"$ev")"
[ "$(events skipped | jq '.items | length')" = 0 ] || e2e_fail "an event on the skipped workload"
[ "$(kubectl get events -n "$ns" --field-selector reason=ReloadFail -o json | jq '.items | length')" = 0 ] ||
    e2e_fail "ReloadFail events"

e2e_log "/explain and reloadd explain agree"
summary='{decision, sources: [.sources[] | {type, name, hash, applied, verdict}]}'
for w in reloaded skipped ignored; do
    curl -fsS "http://127.0.0.1:$E2E_EXPLAIN_PORT/explain?kind=deployment&namespace=$ns&name=$w" >"$E2E_DIR/explain-$w.json" ||
        e2e_fail "/explain for $w failed"
    "$RELOADD_BIN" explain "deployment/$w" -n "$ns" --kubeconfig="$RELOADD_CONTROLLER_KUBECONFIG" \
        >"$E2E_DIR/cli-$w.json" 2>"$E2E_DIR/cli-$w.err" || e2e_fail "reloadd explain $w: $(cat "$E2E_DIR/cli-$w.err")"
    a=$(jq -cS "$summary" "$E2E_DIR/explain-$w.json") b=$(jq -cS "$summary" "$E2E_DIR/cli-$w.json")
    [ "$a" = "$b" ] || e2e_fail "explain of $w differs: /explain $a, CLI $b"
    e2e_log "$w: $a"
done
cfg_hash=$(kubectl get cm -n "$ns" cfg -o json | jq -j '.data | to_entries | map("\(.key)=\(.value)") | sort | join(";")' | sha1sum | cut -c1-40)
jq -e --arg h "$cfg_hash" '.decision == "none" and .sources[0].verdict == "up-to-date" and .sources[0].hash == $h and .sources[0].applied == $h and .lastWrite.result == "success"' \
    "$E2E_DIR/explain-reloaded.json" >/dev/null || e2e_fail "reloaded: $(cat "$E2E_DIR/explain-reloaded.json")"
jq -e '.decision == "none" and .sources[0].verdict == "skip" and (.sources[0].reason | test("auto"))' \
    "$E2E_DIR/explain-skipped.json" >/dev/null || e2e_fail "skipped: $(cat "$E2E_DIR/explain-skipped.json")"
jq -e '.decision == "none" and .sources[0].name == "cfg-ignored" and .sources[0].verdict == "skip" and (.sources[0].reason | test("ignore"))' \
    "$E2E_DIR/explain-ignored.json" >/dev/null || e2e_fail "ignored: $(cat "$E2E_DIR/explain-ignored.json")"
rc=0; "$RELOADD_BIN" explain deployment/nope -n "$ns" --kubeconfig="$RELOADD_CONTROLLER_KUBECONFIG" >/dev/null 2>&1 || rc=$?
[ $rc -eq 1 ] || e2e_fail "explain of a missing workload exited $rc, want 1"
rc=0; "$RELOADD_BIN" explain nonsense >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || e2e_fail "explain with bad usage exited $rc, want 2"

e2e_log "meta-info ConfigMap"
e2e_wait 10 "reloader-meta-info" kubectl get cm -n reloadd reloader-meta-info
kubectl get cm -n reloadd reloader-meta-info -o json >"$E2E_DIR/meta-info.json"
jq -e '.metadata.labels["reloader.stakater.com/meta-info"] == "reloader"
       and (.data.buildInfo | fromjson | .releaseVersion | length > 0)
       and (.data.reloaderOptions | fromjson | .reloadStrategy == "env-vars" and .autoReloadAll == false)
       and (.data.deploymentInfo | fromjson | .name == "reloadd-e2e" and .namespace == "reloadd")' \
    "$E2E_DIR/meta-info.json" >/dev/null || e2e_fail "meta-info: $(jq -c .data "$E2E_DIR/meta-info.json")"
e2e_stop_reloadd "$E2E_RELOADD_PID"

# Two replicas, one change: the sum over both of each family moves as
# Reloader's one replica would (its followers run nothing; reloadd's keep
# warm caches but count nothing that only a leader would).
e2e_log "two replicas: each family's sum moves as one replica's"
lease=e2e-ops-lock
kubectl delete lease -n reloadd "$lease" --ignore-not-found >/dev/null
for r in m0 m1; do
    e2e_start_replica "$r" --namespaces="$ns" --coalesce-window=200ms --lease-name="$lease" \
        --lease-duration=4s --renew-deadline=3s --retry-period=500ms
done
e2e_wait 20 "a leader" bash -c "[ -n \"\$(kubectl get lease -n reloadd $lease -o jsonpath='{.spec.holderIdentity}')\" ]"
sleep 2     # the new leader's pass over the three workloads: nothing to write
scrape_r() { curl -fsS "http://127.0.0.1:$2/metrics" >"$1" && "$promcheck" "$1" >/dev/null; }
scrape_r "$E2E_DIR/r0-a.prom" "$E2E_PORT_m0" && scrape_r "$E2E_DIR/r1-a.prom" "$E2E_PORT_m1" ||
    e2e_fail "a replica's scrape does not parse"
gen=$(e2e_generation "$ns" Deployment/reloaded)
e2e_cm "$ns" cfg v=ha
e2e_wait 10 "the rollout" bash -c "[ \"\$(kubectl get -n $ns deployment/reloaded -o jsonpath='{.metadata.generation}')\" -gt $gen ]"
e2e_settled "$ns" 2 Deployment/reloaded
scrape_r "$E2E_DIR/r0-b.prom" "$E2E_PORT_m0" && scrape_r "$E2E_DIR/r1-b.prom" "$E2E_PORT_m1" ||
    e2e_fail "a replica's scrape does not parse"
sum_delta() { # sample -> the delta summed over both replicas
    echo $(($(delta "$E2E_DIR/r0-a.prom" "$E2E_DIR/r0-b.prom" "$1") + $(delta "$E2E_DIR/r1-a.prom" "$E2E_DIR/r1-b.prom" "$1")))
}
for want in 'reloader_reload_executed_total{success=true} 1' \
            'reloader_action_total{workload_kind=Deployment,result=success} 1' \
            'reloader_workloads_matched_total{kind=Deployment} 1' \
            'reloader_events_received_total{event_type=update,resource_type=configmaps} 1' \
            'reloader_events_processed_total{event_type=update,resource_type=configmaps,result=success} 1' \
            'reloader_reconcile_total{result=success} 1' \
            'reloader_workloads_scanned_total{kind=Deployment} 3'; do
    d=$(sum_delta "${want% *}")
    [ "$d" = "${want##* }" ] || e2e_fail "${want% *} moved by $d over both replicas, want ${want##* }"
    e2e_log "both replicas: ${want% *} +$d"
done
# The event's reconcile and scan, and the queue's adds: the leader's alone.
for r in m0 m1; do
    leader=$(kubectl get lease -n reloadd "$lease" -o jsonpath='{.spec.holderIdentity}')
    [ "$r" = "$leader" ] && continue
    f0=$E2E_DIR/r${r#m}-a.prom f1=$E2E_DIR/r${r#m}-b.prom
    for m in 'reloader_reconcile_total{result=success}' 'reloader_reconcile_total{result=skipped}' \
             'reloader_workloads_scanned_total{kind=Deployment}' 'reloader_workqueue_adds_total'; do
        [ "$(delta "$f0" "$f1" "$m")" = 0 ] || e2e_fail "the follower $r counted $m (+$(delta "$f0" "$f1" "$m"))"
    done
done
kubectl delete lease -n reloadd "$lease" --ignore-not-found >/dev/null
