# Restart budget (issue 17): a source changing every second for E2E_BUDGET_SECONDS
# (15) against a budget of 3 rollouts per E2E_BUDGET_PERIOD (30s; the workload's own
# annotation): exactly 3 rollouts, then held with one Warning "ReloadHeld" Event and
# the change marked pending on the workload (one record-only write), then one rollout
# once the budget frees, carrying the last value, then nothing more. reloadd is
# stopped and started again (no --sync-after-restart) while the rollout is held: the
# pending mark keeps the change, so the restarted reloadd still rolls it once the budget
# frees (without the mark it would adopt the change as one made before it watched). A
# workload of the same source without a budget (annotation "off") follows the changes.
# E2E_BUDGET_SECONDS=60 E2E_BUDGET_PERIOD=10m is the issue's own scale (12 minutes).
# Waits on its own clock, checks counts: it runs beside the other cases.
# e2e-lane: background
e2e_needs audit-log
ns=$(e2e_ns budget)
secs=${E2E_BUDGET_SECONDS:-15}
period=${E2E_BUDGET_PERIOD:-30s}
case $period in
*m) period_s=$((${period%m} * 60)) ;;
*s) period_s=${period%s} ;;
*) e2e_fail "E2E_BUDGET_PERIOD: seconds or minutes (30s, 10m)" ;;
esac
e2e_cm "$ns" cfg v=0
env='        envFrom: [{configMapRef: {name: cfg}}]'
e2e_deploy "$ns" app "{reloader.stakater.com/auto: \"true\", reloadd.io/restart-budget: \"3/$period\"}" "$(e2e_container "$env")"
e2e_deploy "$ns" free '{reloader.stakater.com/auto: "true", reloadd.io/restart-budget: "off"}' "$(e2e_container "$env")"
e2e_start_reloadd --namespaces="$ns" --coalesce-window=200ms
e2e_wait_recorded "$ns" Deployment/app Deployment/free
rev() { kubectl get -n "$ns" deployment/app -o jsonpath='{.spec.template.spec.containers[0].env[0].value}'; }
t_app=$(e2e_template "$ns" deployment/app) t_free=$(e2e_template "$ns" deployment/free)
e2e_watch_deployments "$ns" "$E2E_DIR/watch.json"
rolled() { e2e_rollouts_seen "$E2E_DIR/watch.json" "$1" "$2"; }
writes0=$(e2e_writes "$ns" app)
start=$SECONDS i=0
while [ $((SECONDS - start)) -lt "$secs" ]; do
    i=$((i + 1))
    e2e_cm "$ns" cfg "v=$i"
    while [ $((SECONDS - start)) -lt "$i" ]; do sleep 0.1; done  # one change a second
done
sleep 2
n_app=$(rolled app "$t_app")
e2e_log "after $i changes in $((SECONDS - start)) s: app rolled $n_app times, free $(rolled free "$t_free")"
[ "$n_app" -eq 3 ] || e2e_fail "app rolled $n_app times, want 3 (its budget)"
e2e_wait 10 "the ReloadHeld Event" bash -c "kubectl get events -n $ns --field-selector involvedObject.name=app,reason=ReloadHeld -o name | grep -q ."
kubectl get events -n "$ns" --field-selector involvedObject.name=app,reason=ReloadHeld -o jsonpath='{.items[0].message}{"\n"}'
n_ev=$(kubectl get events -n "$ns" --field-selector involvedObject.name=app,reason=ReloadHeld -o jsonpath='{range .items[*]}{.count}{"\n"}{end}' | awk '{s += $1} END {print s + 0}')
[ "$n_ev" -eq 1 ] || e2e_fail "$n_ev ReloadHeld Events, want 1"
grep -q '^reloader_restart_budget_held_total{kind="Deployment"} 1' <<<"$(curl -fsS "http://127.0.0.1:$E2E_RELOADD_PORT/metrics")" ||
    e2e_fail "reloader_restart_budget_held_total did not count the hold"
kubectl get deployment -n "$ns" app -o jsonpath='{.metadata.annotations.reloadd\.io/applied}' |
    jq -e 'has("@pending")' >/dev/null || e2e_fail "app is held but its record is not marked pending"
w=$(($(e2e_writes "$ns" app) - writes0))
[ "$w" -eq 4 ] || e2e_fail "$w writes to app while it was held, want 4: 3 rollouts and the pending mark"

# A restart while held, without --sync-after-restart.
e2e_stop_reloadd "$E2E_RELOADD_PID"
e2e_start_reloadd --namespaces="$ns" --coalesce-window=200ms
e2e_log "restarted while held"
# The budget frees one period after the first rollout: one rollout with the last value.
want=$(kubectl get cm -n "$ns" cfg -o json | jq -r '.data | to_entries | map("\(.key)=\(.value)") | sort | join(";")' | tr -d '\n' | sha1sum | cut -c1-40)
rolled4() { [ "$(rolled app "$t_app")" -ge 4 ]; }
e2e_wait $((period_s + 15)) "app rolls once the budget frees" rolled4
e2e_settled "$ns" 4 Deployment/app
[ "$(rolled app "$t_app")" -eq 4 ] || e2e_fail "app rolled $(rolled app "$t_app") times after the hold, want 4"
e2e_log "app's marker after the hold: $(rev)"
kubectl get -n "$ns" deployment/app -o json | jq -e --arg h "$want" '[.spec.template.spec.containers[0].env[] | select(.name == "STAKATER_CFG_CONFIGMAP") | .value] == [$h]' >/dev/null ||
    e2e_fail "the rollout after the hold does not carry the last value"
kubectl get deployment -n "$ns" app -o jsonpath='{.metadata.annotations.reloadd\.io/applied}' |
    jq -e 'has("@pending") | not' >/dev/null || e2e_fail "the pending mark is still on app after its rollout"
w=$(($(e2e_writes "$ns" app) - writes0))
[ "$w" -eq 5 ] || e2e_fail "$w writes to app in all, want 5: 4 rollouts and the pending mark"
[ "$(rolled free "$t_free")" -ge 5 ] || e2e_fail "free (no budget) rolled only $(rolled free "$t_free") times for $i changes"
