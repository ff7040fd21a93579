# Maintenance windows (issue 17.4): a window opening 45-105 s from now, one
# minute long ("M H * * *; 1m", UTC). A Deployment whose ConfigMap changes
# (twice) before the opening is not rolled: one record-only write marks it
# pending ("@pending" in reloadd.io/applied), nothing more; at the opening it
# rolls exactly once, within a few seconds, with the latest value, the mark
# goes, and nothing is written after. Once with one replica and the flag
# (plus the metric, the ReloadDeferred Event and /explain), once with two HA
# replicas and the workload's annotation, the leader SIGKILLed between the
# change and the opening: the other replica rolls it at the opening, once.
# The replicas use a Lease of their own: the case runs beside the others.
# e2e-lane: background
e2e_needs replicas signals audit-log
one=$(e2e_ns window) ha=$(e2e_ns window-ha)
now=$(date -u +%s)
open=$(((now + 45 + 59) / 60 * 60))     # room for the setup on a loaded machine
window="$(date -u -d "@$open" +'%-M %-H') * * *; 1m"
e2e_log "window \"$window\" opens at $(date -u -d "@$open" +%H:%M:%S) (in $((open - now)) s)"
env='        envFrom: [{configMapRef: {name: cfg}}]'
for ns in "$one" "$ha"; do e2e_cm "$ns" cfg v=0; done
e2e_deploy "$one" app '{reloader.stakater.com/auto: "true"}' "$(e2e_container "$env")"
e2e_deploy "$ha" app "{reloader.stakater.com/auto: \"true\", reloadd.io/rollout-window: \"$window\"}" "$(e2e_container "$env")"
lease=e2e-window-lock
kubectl delete lease -n reloadd "$lease" --ignore-not-found >/dev/null
e2e_start_reloadd --namespaces="$one" --coalesce-window=200ms --rollout-window="$window"
lease_args=(--lease-name="$lease" --lease-duration=4s --renew-deadline=3s --retry-period=500ms --namespaces="$ha" --coalesce-window=200ms)
for r in w0 w1; do e2e_start_replica "$r" "${lease_args[@]}"; done
e2e_wait 30 "a leader" bash -c "[ -n \"\$(kubectl get lease -n reloadd $lease -o jsonpath='{.spec.holderIdentity}')\" ]"
e2e_wait_recorded "$one" Deployment/app
e2e_wait_recorded "$ha" Deployment/app
sleep 1
declare -A w0
for ns in "$one" "$ha"; do w0[$ns]=$(e2e_writes "$ns" app); done
pending() { kubectl get -n "$1" deployment/app -o json | jq -er '.metadata.annotations["reloadd.io/applied"] | fromjson | .["@pending"] // empty'; }
marker() { kubectl get -n "$1" deployment/app -o json | jq -r '[.spec.template.spec.containers[0].env[]? | select(.name == "STAKATER_CFG_CONFIGMAP") | .value][0] // ""'; }
want() { kubectl get cm -n "$1" cfg -o json | jq -r '.data | to_entries | map("\(.key)=\(.value)") | sort | join(";")' | tr -d '\n' | sha1sum | cut -c1-40; }
for ns in "$one" "$ha"; do e2e_cm "$ns" cfg v=1; done
for ns in "$one" "$ha"; do e2e_wait 30 "the pending mark in $ns" pending "$ns"; done
for ns in "$one" "$ha"; do e2e_cm "$ns" cfg v=2; done
sleep 2
leader=$(e2e_lease_holder "$lease")
[ -n "$leader" ] || e2e_fail "no leader"
pid_var="E2E_PID_$leader"
kill -KILL "${!pid_var}"
wait "${!pid_var}" 2>/dev/null || true
e2e_log "SIGKILLed the leader $leader, $((open - $(date -u +%s))) s before the opening"
[ $(($(date -u +%s) + 3)) -lt "$open" ] || e2e_fail "too late: the window opened before the checks (a slow machine)"
for ns in "$one" "$ha"; do
    [ -z "$(marker "$ns")" ] || e2e_fail "$ns: rolled before the window opened"
    w=$(($(e2e_writes "$ns" app) - w0[$ns]))
    [ "$w" -eq 1 ] || e2e_fail "$ns: $w writes after the baseline before the opening, want 1 (the pending mark)"
done
e2e_log "before the opening: pending since $(pending "$one") and $(pending "$ha"), no marker, one write each"
grep -q '^reloader_window_held_total{kind="Deployment"} 1' <<<"$(curl -fsS "http://127.0.0.1:$E2E_RELOADD_PORT/metrics")" ||
    e2e_fail "reloader_window_held_total did not count the hold once"
e2e_wait 10 "the ReloadDeferred Event" bash -c "kubectl get events -n $one --field-selector involvedObject.name=app,reason=ReloadDeferred -o name | grep -q ."
e2e_log "Event: $(kubectl get events -n "$one" --field-selector involvedObject.name=app,reason=ReloadDeferred -o jsonpath='{.items[0].message}')"
explain=$(curl -fsS "http://127.0.0.1:$E2E_EXPLAIN_PORT/explain?kind=Deployment&namespace=$one&name=app" || true)
e2e_log "explain: $(jq -c '{decision, rolloutWindow}' <<<"$explain" 2>/dev/null || echo "$explain")"
jq -e '.decision == "held" and .rolloutWindow.open == false and (.rolloutWindow.pendingSince | length > 0)' <<<"$explain" >/dev/null ||
    e2e_fail "/explain does not show the held rollout"
for ns in "$one" "$ha"; do
    e2e_wait $((open - $(date -u +%s) + 15)) "$ns rolled at the opening" bash -c "[ -n \"\$(kubectl get -n $ns deployment/app -o json | jq -r '[.spec.template.spec.containers[0].env[]? | select(.name == \"STAKATER_CFG_CONFIGMAP\")][0].value // empty')\" ]"
    late=$(($(date -u +%s) - open))
    e2e_log "$ns rolled $late s after the opening"
    [ "$late" -ge 0 ] && [ "$late" -le 10 ] || e2e_fail "$ns rolled $late s after the opening"
done
for ns in "$one" "$ha"; do
    e2e_settled "$ns" 3 Deployment/app
    [ "$(marker "$ns")" = "$(want "$ns")" ] || e2e_fail "$ns: the rollout does not carry the latest value"
    [ -z "$(pending "$ns" || true)" ] || e2e_fail "$ns: the pending mark stayed after the rollout"
    w=$(($(e2e_writes "$ns" app) - w0[$ns]))
    [ "$w" -eq 2 ] || e2e_fail "$ns: $w writes after the baseline, want 2 (the pending mark, one rollout)"
done
e2e_log "both rolled once at the opening with the latest value; 2 writes each after the baseline"
