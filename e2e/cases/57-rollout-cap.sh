# Rollout cap (issue 17.2): N Deployments (100) of one ConfigMap, running pods, with
# --max-concurrent-rollouts=5. After one change of the ConfigMap: never more than 5 of
# them in a rollout at once - every state they went through, as a watch delivers each
# version in order (a rollout runs from reloadd's write of a new pod template until the
# controller reports that generation observed, updated and available) - every one rolled exactly
# once, the cap's gauges back to 0, and no write after. reloadd is stopped (SIGTERM) and
# started again (no --sync-after-restart) while most of them wait: a waiting Deployment
# is marked pending (a record-only write, once), so the restarted reloadd still rolls
# it, and the rollouts still in flight count against the cap after the restart.
# Writes: one rollout each, plus one mark for each that waited.
e2e_needs audit-log
ns=$(e2e_ns cap)
n=${E2E_CAP_WORKLOADS:-100}
max=5
e2e_cm "$ns" cfg v=0
e2e_apps "$ns" "$n"
kubectl wait -n "$ns" --for=condition=Available deployment --all --timeout=300s >/dev/null ||
    e2e_fail "the $n Deployments did not become available"
e2e_start_reloadd --namespaces="$ns" --max-concurrent-rollouts=$max --rollout-timeout=120s \
    --coalesce-window=200ms
all_recorded() {
    [ "$(e2e_recorded_count "$ns")" = "$n" ]
}
e2e_wait 120 "a baseline record on all $n Deployments" all_recorded
kubectl wait -n "$ns" --for=condition=Available deployment --all --timeout=120s >/dev/null
# The pod templates before the change (a pending mark bumps a Deployment's generation
# too: the API server counts annotation edits, so a rollout is a new template).
kubectl get deployments -n "$ns" -o json | jq -c '[.items[] | {(.metadata.name): .spec.template}] | add' >"$E2E_DIR/t0.json"
writes0=$(e2e_writes "$ns")

# Every version of every Deployment from now on, in order.
e2e_watch_deployments "$ns" "$E2E_DIR/watch.json"
e2e_cm "$ns" cfg v=1
t0=$SECONDS
rolled() { # how many Deployments have a new template, observed and available
    kubectl get deployments -n "$ns" -o json | jq --slurpfile t0 "$E2E_DIR/t0.json" '
        [.items[] | select(.spec.template != $t0[0][.metadata.name]
            and .status.observedGeneration >= .metadata.generation
            and (.status.updatedReplicas // 0) == .spec.replicas
            and (.status.availableReplicas // 0) == .spec.replicas
            and (.status.replicas // 0) == .spec.replicas)] | length'
}
all_rolled() { [ "$(rolled)" = "$n" ]; }
some_rolled() { [ "$(rolled)" -ge $((n / 5)) ]; }
e2e_wait 300 "$((n / 5)) Deployments rolled" some_rolled
e2e_stop_reloadd "$E2E_RELOADD_PID"
e2e_log "restart after $(rolled) of $n rolled"
e2e_start_reloadd --namespaces="$ns" --max-concurrent-rollouts=$max --rollout-timeout=120s \
    --coalesce-window=200ms
e2e_wait 600 "all $n Deployments rolled and available" all_rolled
e2e_log "all $n rolled in $((SECONDS - t0)) s"
e2e_settled "$ns" 4
e2e_watch_stop

# The most Deployments in a rollout at once, over every version the watch saw.
peak=$(jq -n --slurpfile t0 "$E2E_DIR/t0.json" '
    def busy: .spec.template != $t0[0][.metadata.name]
        and ((.status.observedGeneration // 0) < .metadata.generation
             or (.status.updatedReplicas // 0) != .spec.replicas
             or (.status.availableReplicas // 0) != .spec.replicas
             or (.status.replicas // 0) != .spec.replicas);
    reduce inputs as $d ({busy: {}, peak: 0};
        .busy[$d.metadata.name] = ($d | busy)
        | .peak = ([.peak, ([.busy[] | select(.)] | length)] | max))
    | .peak' "$E2E_DIR/watch.json")
versions=$(jq -n '[inputs] | length' "$E2E_DIR/watch.json")
e2e_log "watch: $versions versions, at most $peak Deployments in a rollout at once (cap $max)"
[ "$versions" -ge "$n" ] || e2e_fail "the watch saw only $versions versions"
[ "$peak" -le "$max" ] || e2e_fail "$peak Deployments were in a rollout at once, cap $max"
[ "$peak" -ge 2 ] || e2e_fail "never more than one rollout at once: the cap serialised them"

# One rollout write per Deployment (the change and its record in one PATCH), and one
# pending mark for each that waited; no mark is left on any.
marked=$(e2e_marked_seen "$E2E_DIR/watch.json")
writes=$(($(e2e_writes "$ns") - writes0))
e2e_log "writes: $writes ($n rollouts, $marked Deployments marked pending while they waited)"
[ "$marked" -ge $((n / 2)) ] || e2e_fail "only $marked of the $n Deployments were marked pending while they waited"
[ "$writes" = $((n + marked)) ] || e2e_fail "$writes writes to the $n Deployments after the change, want $((n + marked))"
kubectl get deployments -n "$ns" -o json | jq -e 'all(.items[]; .metadata.annotations["reloadd.io/applied"] // "" | contains("@pending") | not)' >/dev/null ||
    e2e_fail "a pending mark was left on a Deployment"
once=$(jq -n --slurpfile t0 "$E2E_DIR/t0.json" '[inputs | select(.spec.template != $t0[0][.metadata.name])
    | {n: .metadata.name, t: .spec.template}] | unique | group_by(.n) | map(select(length == 1)) | length' "$E2E_DIR/watch.json")
[ "$once" = "$n" ] || e2e_fail "$once of the $n Deployments rolled exactly once (one new template each)"
m=$(curl -fsS "http://127.0.0.1:$E2E_RELOADD_PORT/metrics")
grep -q '^reloader_rollouts_in_flight 0$' <<<"$m" || e2e_fail "rollouts still in flight: $(grep rollouts_in_flight <<<"$m")"
grep -q '^reloader_rollouts_waiting 0$' <<<"$m" || e2e_fail "rollouts still waiting: $(grep rollouts_waiting <<<"$m")"
grep -q '^reloader_rollout_timeouts_total 0$' <<<"$m" || e2e_fail "a rollout timed out: $(grep rollout_timeouts <<<"$m")"
grep -q 'rollout waits: --max-concurrent-rollouts' "$E2E_DIR"/reloadd-*.log ||
    e2e_fail "no workload ever waited for a slot"
curl -fsS "http://127.0.0.1:$E2E_EXPLAIN_PORT/explain?kind=Deployment&namespace=$ns&name=app-1" |
    jq -e '.rolloutCap.max == 5 and .rolloutCap.this == "none"' >/dev/null ||
    e2e_fail "/explain does not show the cap"
e2e_stop_reloadd "$E2E_RELOADD_PID"
