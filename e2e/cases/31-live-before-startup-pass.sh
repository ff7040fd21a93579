# Live changes go before the startup pass. On a first install every managed
# workload gets a baseline record, one write each: at --kube-api-qps 5, 150
# baselines take 30 s. A ConfigMap changed during that pass rolls its
# Deployment within seconds, while most baselines are still to be written:
# the pass is queued as bulk work, behind the keys of live changes.
ns=$(e2e_ns bulk)
e2e_cm "$ns" shared v=1
e2e_cm "$ns" hot v=1
for i in $(seq 1 150); do e2e_auto_deploy_yaml "d-$i" shared; done | kubectl apply -n "$ns" -f - >/dev/null
e2e_deploy "$ns" hot-app '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        envFrom: [{configMapRef: {name: hot}}]')"

recorded() { e2e_recorded_count "$ns"; }
recorded_at_least() { [ "$(recorded)" -ge "$1" ]; }
hot_rolled() {
    kubectl get deploy -n "$ns" hot-app -o json |
        jq -e '[.spec.template.spec.containers[0].env // [] | .[] | select(.name == "STAKATER_HOT_CONFIGMAP")] | length == 1'
}
e2e_start_reloadd --namespaces="$ns" --kube-api-qps=5 --kube-api-burst=5
e2e_wait 20 "the baseline pass under way" recorded_at_least 5
t0=$(date +%s%3N)
e2e_cm "$ns" hot v=2
e2e_wait 10 "hot-app rolled during the baseline pass" hot_rolled
dt=$(($(date +%s%3N) - t0))
done_then=$(recorded)
e2e_log "hot-app rolled $dt ms after its ConfigMap changed, with $done_then of 151 baselines written"
[ "$done_then" -lt 120 ] || e2e_fail "the baseline pass was nearly over ($done_then of 151): the test proves nothing"
e2e_wait 90 "every baseline written" recorded_at_least 151
e2e_stop_reloadd "$E2E_RELOADD_PID"
