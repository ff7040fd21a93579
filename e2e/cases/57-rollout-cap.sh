# Rollout cap (issue 17.2): N Deployments (100) of one ConfigMap, running pods, with
# --max-concurrent-rollouts=5. After one change of the ConfigMap: never more than 5 of
# them in a rollout at once - every state they went through, as a watch delivers each
# version in order (a rollout runs from the generation reloadd's write made until the
# controller reports it observed, updated and available) - every one rolled exactly
# once (one write each in the audit log), the cap's gauges back to 0, and no write after.
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
    [ "$(kubectl get deployments -n "$ns" -o json |
        jq '[.items[] | select(.metadata.annotations["reloadd.io/applied"] // "" | length > 0)] | length')" = "$n" ]
}
e2e_wait 120 "a baseline record on all $n Deployments" all_recorded
kubectl wait -n "$ns" --for=condition=Available deployment --all --timeout=120s >/dev/null
kubectl get deployments -n "$ns" -o json | jq -c '[.items[] | {(.metadata.name): .metadata.generation}] | add' >"$E2E_DIR/g0.json"
writes0=$(e2e_writes "$ns")

# Every version of every Deployment from now on, in order.
kubectl get deployments -n "$ns" --watch-only -o json >"$E2E_DIR/watch.json" 2>"$E2E_DIR/watch.err" &
watch_pid=$!
E2E_PIDS+=("$watch_pid")
sleep 1
e2e_cm "$ns" cfg v=1
t0=$SECONDS
rolled() { # how many Deployments show a generation past g0 and are available again
    kubectl get deployments -n "$ns" -o json | jq --slurpfile g0 "$E2E_DIR/g0.json" '
        [.items[] | select(.metadata.generation > $g0[0][.metadata.name]
            and .status.observedGeneration >= .metadata.generation
            and (.status.updatedReplicas // 0) == .spec.replicas
            and (.status.availableReplicas // 0) == .spec.replicas
            and (.status.replicas // 0) == .spec.replicas)] | length'
}
all_rolled() { [ "$(rolled)" = "$n" ]; }
e2e_wait 600 "all $n Deployments rolled and available" all_rolled
e2e_log "all $n rolled in $((SECONDS - t0)) s"
e2e_settled "$ns" 4
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true

# The most Deployments in a rollout at once, over every version the watch saw.
peak=$(jq -n --slurpfile g0 "$E2E_DIR/g0.json" '
    def busy: .metadata.generation > $g0[0][.metadata.name]
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

# One rollout write per Deployment: the change and its record in one PATCH each.
writes=$(($(e2e_writes "$ns") - writes0))
[ "$writes" = "$n" ] || e2e_fail "$writes writes to the $n Deployments after the change, want $n"
kubectl get deployments -n "$ns" -o json | jq -e --slurpfile g0 "$E2E_DIR/g0.json" '
    all(.items[]; .metadata.generation == $g0[0][.metadata.name] + 1)' >/dev/null ||
    e2e_fail "a Deployment rolled more than once"
m=$(curl -fsS "http://127.0.0.1:$E2E_RELOADD_PORT/metrics")
grep -q '^reloader_rollouts_in_flight 0$' <<<"$m" || e2e_fail "rollouts still in flight: $(grep rollouts_in_flight <<<"$m")"
grep -q '^reloader_rollouts_waiting 0$' <<<"$m" || e2e_fail "rollouts still waiting: $(grep rollouts_waiting <<<"$m")"
grep -q '^reloader_rollout_timeouts_total 0$' <<<"$m" || e2e_fail "a rollout timed out: $(grep rollout_timeouts <<<"$m")"
grep -q 'rollout waits: --max-concurrent-rollouts' "$E2E_DIR/reloadd-0.log" ||
    e2e_fail "no workload ever waited for a slot"
curl -fsS "http://127.0.0.1:$E2E_EXPLAIN_PORT/explain?kind=Deployment&namespace=$ns&name=app-1" |
    jq -e '.rolloutCap.max == 5 and .rolloutCap.this == "none"' >/dev/null ||
    e2e_fail "/explain does not show the cap"
e2e_stop_reloadd "$E2E_RELOADD_PID"
