# Pause period (docs/reloader.md §10, with §15.7 fixed): the rollout that reloads a
# Deployment carrying the pause-period annotation pauses it in the same
# write; a second change inside the window updates the paused template;
# the Deployment is resumed on time although reloadd restarts during the
# pause, and the two changes give exactly one rollout (one new
# ReplicaSet). A window that ends while reloadd is down is resumed as soon
# as it starts. A negative period is refused: plain rollouts, no pause.
e2e_needs audit-log
ns=$(e2e_ns pause)
PA=deployment.reloader.stakater.com/paused-at
e2e_cm "$ns" cfg v=0
e2e_cm "$ns" cfg2 v=0
e2e_deploy "$ns" app '{reloader.stakater.com/auto: "true", deployment.reloader.stakater.com/pause-period: "30s"}' \
    "$(e2e_container '        envFrom: [{configMapRef: {name: cfg}}]')"
e2e_deploy "$ns" late '{reloader.stakater.com/auto: "true", deployment.reloader.stakater.com/pause-period: "12s"}' \
    "$(e2e_container '        envFrom: [{configMapRef: {name: cfg2}}]')"
e2e_deploy "$ns" bad '{reloader.stakater.com/auto: "true", deployment.reloader.stakater.com/pause-period: "-5m"}' \
    "$(e2e_container '        envFrom: [{configMapRef: {name: cfg}}]')"

args=(--namespaces="$ns" --coalesce-window=200ms)
e2e_start_reloadd "${args[@]}"
e2e_wait_recorded "$ns" Deployment/app Deployment/late Deployment/bad

rs_count() { kubectl get rs -n "$ns" -l "app=$1" -o json | jq '.items | length'; }
paused() { [ "$(kubectl get -n "$ns" "deployment/$1" -o jsonpath='{.spec.paused}')" = true ]; }
paused_at() { kubectl get -n "$ns" "deployment/$1" -o json | jq -r --arg k "$PA" '.metadata.annotations[$k] // ""'; }
env_of() { kubectl get -n "$ns" "deployment/$1" -o json | jq -r '.spec.template.spec.containers[0].env // [] | .[] | select(.name | startswith("STAKATER_")) | .value'; }
hash_of() { kubectl get cm -n "$ns" "$1" -o json | jq -j '.data | to_entries | map("\(.key)=\(.value)") | sort | join(";")' | sha1sum | cut -c1-40; }
for d in app late bad; do e2e_wait 30 "first ReplicaSet of $d" bash -c "[ \"\$(kubectl get rs -n $ns -l app=$d -o json | jq '.items | length')\" = 1 ]"; done
gen_bad=$(e2e_generation "$ns" Deployment/bad)

e2e_log "first change: the reload pauses app and late in the same write"
e2e_cm "$ns" cfg v=1
e2e_cm "$ns" cfg2 v=1
e2e_wait 10 "app paused" paused app
e2e_wait 10 "late paused" paused late
[ "$(env_of app)" = "$(hash_of cfg)" ] || e2e_fail "the pausing write did not carry the new template"
at=$(paused_at app)
[ -n "$at" ] || e2e_fail "no paused-at on app"
at_s=$(date -u -d "$at" +%s) || e2e_fail "paused-at '$at' is not RFC 3339"
e2e_log "app paused at $at"
curl -fsS "http://127.0.0.1:$E2E_EXPLAIN_PORT/explain?kind=deployment&namespace=$ns&name=app" |
    jq -e '.pause.state == "paused" and .pause.period == "30s"' >/dev/null || e2e_fail "/explain does not show the pause"

e2e_log "second change inside the window: template updated, still paused, no rollout"
sleep 1
e2e_cm "$ns" cfg v=2
e2e_wait 10 "the paused template updated" bash -c "[ \"\$(kubectl get -n $ns deployment/app -o json | jq -r '.spec.template.spec.containers[0].env[0].value')\" = '$(hash_of cfg)' ]"
paused app || e2e_fail "app no longer paused after the second change"
[ "$(paused_at app)" = "$at" ] || e2e_fail "the second change moved paused-at (the window must not extend)"
[ "$(rs_count app)" = 1 ] || e2e_fail "app rolled while paused"

e2e_log "restart reloadd during the pause; it stays down past the end of late's 12 s window"
late_at_s=$(date -u -d "$(paused_at late)" +%s)
e2e_stop_reloadd "$E2E_RELOADD_PID"
while (( $(date +%s) < late_at_s + 13 )); do sleep 0.2; done
paused late || e2e_fail "late resumed while no reloadd ran"
start_s=$(date +%s)
e2e_start_reloadd "${args[@]}"
e2e_wait 5 "late resumed at reloadd start" bash -c "! [ \"\$(kubectl get -n $ns deployment/late -o jsonpath='{.spec.paused}')\" = true ]"
e2e_log "late resumed $(( $(date +%s) - start_s )) s after reloadd started"
[ -z "$(paused_at late)" ] || e2e_fail "late still carries paused-at"

e2e_log "app resumes when its window ends"
until ! paused app; do
    (( $(date +%s) - at_s < 40 )) || e2e_fail "app still paused 40 s after $at"
    sleep 0.2
done
resumed_s=$(date +%s)
took=$((resumed_s - at_s))
e2e_log "app resumed $took s after paused-at (period 30 s)"
((took >= 29 && took <= 33)) || e2e_fail "app resumed after $took s, want 30 s (+3)"
[ -z "$(paused_at app)" ] || e2e_fail "app still carries paused-at"
e2e_wait 20 "app's rollout after the resume" bash -c "[ \"\$(kubectl get rs -n $ns -l app=app -o json | jq '.items | length')\" = 2 ]"
e2e_settled "$ns" 3 deployment/app
[ "$(rs_count app)" = 2 ] || e2e_fail "two changes in the pause gave $(( $(rs_count app) - 1 )) rollouts, want 1"
newest=$(kubectl get rs -n "$ns" -l app=app -o json | jq -r '.items | sort_by(.metadata.creationTimestamp) | last | .spec.template.spec.containers[0].env[0].value')
[ "$newest" = "$(hash_of cfg)" ] || e2e_fail "the one rollout is not of the latest template"
[ "$(rs_count late)" = 2 ] || e2e_fail "late: $(rs_count late) ReplicaSets, want 2"

e2e_log "a negative period is refused: bad rolled twice, never paused"
[ "$(e2e_generation "$ns" Deployment/bad)" = $((gen_bad + 2)) ] || e2e_fail "bad did not roll once per change"
! paused bad || e2e_fail "bad was paused"
[ -z "$(paused_at bad)" ] || e2e_fail "bad carries paused-at"
grep -q "rolling out without a pause" "$E2E_DIR"/reloadd-*.log || e2e_fail "no warning for the negative period"
e2e_stop_reloadd "$E2E_RELOADD_PID"
