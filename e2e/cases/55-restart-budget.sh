# Restart budget (issue 17): a source changing every second for 15 s against
# a budget of 3 rollouts per 30 s (the workload's own annotation): exactly 3
# rollouts, then held with one Warning "ReloadHeld" Event, then one rollout
# once the budget frees, carrying the last value, then nothing more. A
# workload of the same source without a budget (annotation "off") follows
# the changes as usual.
e2e_needs audit-log
ns=$(e2e_ns budget)
e2e_cm "$ns" cfg v=0
env='        envFrom: [{configMapRef: {name: cfg}}]'
e2e_deploy "$ns" app '{reloader.stakater.com/auto: "true", reloadd.io/restart-budget: "3/30s"}' "$(e2e_container "$env")"
e2e_deploy "$ns" free '{reloader.stakater.com/auto: "true", reloadd.io/restart-budget: "off"}' "$(e2e_container "$env")"
e2e_start_reloadd --namespaces="$ns" --coalesce-window=200ms
e2e_wait_recorded "$ns" Deployment/app Deployment/free
rev() { kubectl get -n "$ns" "deployment/$1" -o jsonpath='{.spec.template.spec.containers[0].env[0].value}'; }
rolled() { # rollouts of the workload since the start: its generation moves by one each
    # (the ReplicaSets the controller manager makes lag behind it on a busy machine)
    echo $(($(e2e_generation "$ns" "deployment/$1") - $2))
}
g0_app=$(e2e_generation "$ns" deployment/app) g0_free=$(e2e_generation "$ns" deployment/free)
start=$SECONDS i=0
while [ $((SECONDS - start)) -lt 15 ]; do
    i=$((i + 1))
    e2e_cm "$ns" cfg "v=$i"
    sleep 0.5
done
sleep 2
n_app=$(rolled app "$g0_app")
e2e_log "after $i changes in $((SECONDS - start)) s: app rolled $n_app times, free $(rolled free "$g0_free")"
[ "$n_app" -eq 3 ] || e2e_fail "app rolled $n_app times, want 3 (its budget)"
e2e_wait 10 "the ReloadHeld Event" bash -c "kubectl get events -n $ns --field-selector involvedObject.name=app,reason=ReloadHeld -o name | grep -q ."
kubectl get events -n "$ns" --field-selector involvedObject.name=app,reason=ReloadHeld -o jsonpath='{.items[0].message}{"\n"}'
n_ev=$(kubectl get events -n "$ns" --field-selector involvedObject.name=app,reason=ReloadHeld -o jsonpath='{range .items[*]}{.count}{"\n"}{end}' | awk '{s += $1} END {print s + 0}')
[ "$n_ev" -eq 1 ] || e2e_fail "$n_ev ReloadHeld Events, want 1"
grep -q '^reloader_restart_budget_held_total{kind="Deployment"} 1' <<<"$(curl -fsS "http://127.0.0.1:$E2E_RELOADD_PORT/metrics")" ||
    e2e_fail "reloader_restart_budget_held_total did not count the hold"
# The budget frees 30 s after the first rollout: one rollout with the last value.
want=$(kubectl get cm -n "$ns" cfg -o json | jq -r '.data | to_entries | map("\(.key)=\(.value)") | sort | join(";")' | tr -d '\n' | sha1sum | cut -c1-40)
e2e_wait 40 "app rolls once the budget frees" bash -c "[ \$(kubectl get -n $ns deployment/app -o jsonpath='{.metadata.generation}') -ge $((g0_app + 4)) ]"
e2e_settled "$ns" 4 Deployment/app
[ "$(rolled app "$g0_app")" -eq 4 ] || e2e_fail "app rolled $(rolled app "$g0_app") times after the hold, want 4"
e2e_log "app's marker after the hold: $(rev app)"
kubectl get -n "$ns" deployment/app -o json | jq -e --arg h "$want" '[.spec.template.spec.containers[0].env[] | select(.name == "STAKATER_CFG_CONFIGMAP") | .value] == [$h]' >/dev/null ||
    e2e_fail "the rollout after the hold does not carry the last value"
[ "$(rolled free "$g0_free")" -ge 5 ] || e2e_fail "free (no budget) rolled only $(rolled free "$g0_free") times for $i changes"
