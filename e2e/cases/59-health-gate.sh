# Health gate (issue 17.3): 6 Deployments of one ConfigMap whose pods never become Ready
# (kwok stage tools/k8s-local/kwok-stage-never-ready.yaml; progressDeadlineSeconds 15, so a
# rollout fails with ProgressDeadlineExceeded), reloadd with --health-gate
# --health-gate-batch=2 --health-gate-timeout=20s. One change of the ConfigMap: exactly 2
# Deployments roll (the first batch), their rollouts fail, and the other 4 are held: not
# rolled (one record-only write each while they wait, the pending mark), a Warning ReloadGated Event on
# each, reloader_health_gate_held_total 4, /explain "held". A restart of reloadd: the held
# workloads are still pending (the mark), so the new process rolls one more first batch of
# 2 and holds the other 2 again. Then the Deployments are fixed (the never-ready label
# removed from their templates by the user: a rollout of theirs, not ours), and a new
# version of the ConfigMap starts afresh: all 6 roll, once each, the first 2 before the
# others (which are marked pending while they wait), and nothing is held or written after.
# Waits on its own clock, checks counts: it runs beside the other cases.
# e2e-lane: background
e2e_needs audit-log
ns=$(e2e_ns gate)
n=6
e2e_cm "$ns" cfg v=0
e2e_apps "$ns" "$n" "progressDeadlineSeconds: 15," ', reloadd.test/never-ready: "true"'
start() {
    e2e_start_reloadd --namespaces="$ns" --health-gate --health-gate-batch=2 \
        --health-gate-timeout=20s --coalesce-window=200ms --log-level=debug
}
start
all_recorded() {
    [ "$(e2e_records "$ns" | grep -c 'configmap/cfg')" = "$n" ]
}
e2e_wait 60 "a baseline record on all $n Deployments" all_recorded
# A rollout is a new pod template (a Deployment's generation also counts annotation edits:
# the record, the pending mark).
templates() { kubectl get deployments -n "$ns" -o json | jq -c '[.items[] | {(.metadata.name): (.spec.template | tostring)}] | add'; }
templates >"$E2E_DIR/t0.json"
# How many Deployments have another pod template than in file $1.
rolled_since() {
    kubectl get deployments -n "$ns" -o json | jq --slurpfile t "$1" '
        [.items[] | select((.spec.template | tostring) != $t[0][.metadata.name])] | length'
}
at_least_rolled() { [ "$(rolled_since "$1")" -ge "$2" ]; }
gated_events() { # the Deployments with a ReloadGated Event, one name a line
    kubectl get events -n "$ns" --field-selector reason=ReloadGated -o json |
        jq -r '[.items[] | select(.type == "Warning") | .involvedObject.name] | unique | .[]'
}
writes0=$(e2e_writes "$ns")

e2e_cm "$ns" cfg v=1
e2e_wait 30 "the first batch of 2 rolled" at_least_rolled "$E2E_DIR/t0.json" 2
four_gated() { [ "$(gated_events | wc -l)" = 4 ]; }
e2e_wait 90 "a ReloadGated Event on each of the 4 held Deployments" four_gated
e2e_log "Event: $(kubectl get events -n "$ns" --field-selector reason=ReloadGated -o jsonpath='{.items[0].message}')"
e2e_settled "$ns" 5
r=$(rolled_since "$E2E_DIR/t0.json")
[ "$r" = 2 ] || e2e_fail "$r Deployments rolled for the change, want the first batch of 2"
templates >"$E2E_DIR/t1.json"
held=$(jq -r --slurpfile t0 "$E2E_DIR/t0.json" 'to_entries[] | select(.value == $t0[0][.key]) | .key' "$E2E_DIR/t1.json" | sort)
[ "$(gated_events | sort)" = "$held" ] || e2e_fail "ReloadGated Events on $(gated_events | tr '\n' ' '), want the held ones: $(tr '\n' ' ' <<<"$held")"
writes=$(($(e2e_writes "$ns") - writes0))
[ "$writes" = 6 ] || e2e_fail "$writes writes after the change, want 6: 2 rollouts and 4 pending marks"
for d in $held; do
    kubectl get deployment -n "$ns" "$d" -o jsonpath='{.metadata.annotations.reloadd\.io/applied}' |
        jq -e 'has("@pending")' >/dev/null || e2e_fail "$d is held but its record is not marked pending"
done
m=$(curl -fsS "http://127.0.0.1:$E2E_RELOADD_PORT/metrics")
grep -Eq '^reloader_health_gate_held_total\{kind="Deployment"\} 4$' <<<"$m" ||
    e2e_fail "reloader_health_gate_held_total: $(grep health_gate <<<"$m")"
h1=$(head -1 <<<"$held")
curl -fsS "http://127.0.0.1:$E2E_EXPLAIN_PORT/explain?kind=Deployment&namespace=$ns&name=$h1" >"$E2E_DIR/explain-held.json"
jq -e '.decision == "held" and .healthGate.enabled and .healthGate.batch == 2
       and .healthGate.sources[0].name == "cfg" and .healthGate.sources[0].verdict == "hold"
       and .healthGate.sources[0].batchMembers == 2 and .healthGate.pendingSince != null' \
    "$E2E_DIR/explain-held.json" >/dev/null || e2e_fail "/explain does not show the hold: $(cat "$E2E_DIR/explain-held.json")"

# A restart: the held workloads are still pending; one more first batch of them rolls.
e2e_stop_reloadd "$E2E_RELOADD_PID"
start
e2e_wait 30 "a new first batch of 2 of the held ones rolled" at_least_rolled "$E2E_DIR/t1.json" 2
held_again() { grep -q 'rollout held until the source changes' "$E2E_DIR/reloadd-$((${#E2E_PIDS[@]} - 1)).log"; }
e2e_wait 90 "the version held again after the restart" held_again
e2e_settled "$ns" 5
r=$(rolled_since "$E2E_DIR/t1.json")
[ "$r" = 2 ] || e2e_fail "$r Deployments rolled after the restart, want one more batch of 2"
r=$(rolled_since "$E2E_DIR/t0.json")
[ "$r" = 4 ] || e2e_fail "$r Deployments rolled for v=1 in all, want 4"

# Fixed by their owner (a template edit of theirs), then a new version of the source.
for i in $(seq 1 "$n"); do
    kubectl patch deployment -n "$ns" "app-$i" --type=json \
        -p '[{"op":"remove","path":"/spec/template/metadata/labels/reloadd.test~1never-ready"}]' >/dev/null
done
kubectl wait -n "$ns" --for=condition=Available deployment --all --timeout=180s >/dev/null ||
    e2e_fail "the fixed Deployments did not become available"
no_mark() {
    [ "$(kubectl get deployments -n "$ns" -o json |
        jq '[.items[] | select(.metadata.annotations["reloadd.io/applied"] // "{}" | fromjson | has("@pending"))] | length')" = 0 ]
}
e2e_wait 30 "the pending marks gone (the template edit is newer than the change)" no_mark
e2e_settled "$ns" 3
templates >"$E2E_DIR/t2.json"
writes2=$(e2e_writes "$ns")
log=$E2E_DIR/reloadd-$((${#E2E_PIDS[@]} - 1)).log
lines0=$(wc -l <"$log")
e2e_watch_deployments "$ns" "$E2E_DIR/watch2.json"
e2e_cm "$ns" cfg v=2
all_rolled() {
    kubectl get deployments -n "$ns" -o json | jq -e --slurpfile t "$E2E_DIR/t2.json" '
        all(.items[]; (.spec.template | tostring) != $t[0][.metadata.name]
            and .status.observedGeneration >= .metadata.generation
            and (.status.updatedReplicas // 0) == .spec.replicas
            and (.status.availableReplicas // 0) == .spec.replicas)' >/dev/null
}
e2e_wait 120 "all $n rolled for the new version and available" all_rolled
e2e_settled "$ns" 5
e2e_watch_stop
for i in $(seq 1 "$n"); do
    r=$(e2e_rollouts_seen "$E2E_DIR/watch2.json" "app-$i" "$(jq -c --arg n "app-$i" '.[$n] | fromjson' "$E2E_DIR/t2.json")")
    [ "$r" = 1 ] || e2e_fail "app-$i rolled $r times for the new version, want once"
done
marked=$(e2e_marked_seen "$E2E_DIR/watch2.json")
writes=$(($(e2e_writes "$ns") - writes2))
e2e_log "new version: $writes writes ($n rollouts, $marked marked pending while they waited)"
[ "$marked" = $((n - 2)) ] || e2e_fail "$marked Deployments marked pending for the new version, want the $((n - 2)) outside the first batch"
[ "$writes" = $((n + marked)) ] || e2e_fail "$writes writes for the new version, want $((n + marked)): $n rollouts and $marked marks"
since=$(tail -n "+$((lines0 + 1))" "$log")
grep -q 'health gate: waiting for the source version' <<<"$since" ||
    e2e_fail "no workload waited for the new version's first batch"
if grep -q 'rollout held until the source changes' <<<"$since"; then
    e2e_fail "the healthy version was held"
fi
e2e_stop_reloadd "$E2E_RELOADD_PID"
