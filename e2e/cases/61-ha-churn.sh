# Churn under leader changes: 100 ConfigMap changes per minute hit 200
# Deployments while the leader is terminated or killed 20 times. Afterwards
# every Deployment's record equals its source's hash, and each rolled
# exactly once per version of its source: no missed reload, no duplicate.
# The API server's audit log shows every workload write made by the Lease
# holder of its moment. E2E_CHURN_SECONDS spreads the kills over a longer
# run (the 10-minute soak of issue 6: E2E_CHURN_SECONDS=600).
e2e_needs replicas signals audit-log
ns=$(e2e_ns churn)
kills=${E2E_CHURN_KILLS:-20}
gap=2
[ "${E2E_CHURN_SECONDS:-0}" -gt $((2 * kills)) ] && gap=$((E2E_CHURN_SECONDS / kills))
since=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
lease_args=(--lease-duration=4s --renew-deadline=3s --retry-period=500ms --namespaces="$ns")
kubectl delete lease -n reloadd stakater-reloader-lock --ignore-not-found >/dev/null

{
    for i in $(seq 0 99); do
        printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d}\ndata: {v: "0"}\n---\n' "$i"
    done
    for i in $(seq 0 199); do e2e_auto_deploy_yaml "d-$i" "cm-$((i % 100))"; done
} | kubectl apply -n "$ns" -f - >/dev/null

for r in r0 r1 r2; do e2e_start_replica "$r" "${lease_args[@]}"; done
all_recorded() { [ "$(e2e_recorded_count "$ns")" -eq 200 ]; }
e2e_wait 60 "baselines on all 200 Deployments" all_recorded
kubectl get deploy -n "$ns" -o json | jq -r '.items[] | "\(.metadata.name) \(.metadata.generation)"' >"$E2E_DIR/gen0"

# The writer: one change every 0.6 s (100 a minute), round robin, so a
# ConfigMap changes once a minute and no two versions of one source fall in
# one window. curl with the admin identity: kubectl is too slow for the pace.
e2e_admin_curl_setup
(
    n=0
    while [ ! -f "$E2E_DIR/stop-writer" ]; do
        i=$((n % 100)); v=$((n / 100 + 1))
        e2e_admin_curl -X PATCH -H 'Content-Type: application/merge-patch+json' \
            -d "{\"data\":{\"v\":\"$v\"}}" "/api/v1/namespaces/$ns/configmaps/cm-$i" &&
            echo "cm-$i $v" >>"$E2E_DIR/changes"
        n=$((n + 1))
        sleep 0.6
    done
) &
writer=$!
E2E_PIDS+=("$writer")

pid_of() { local v="E2E_PID_$1"; echo "${!v}"; }
next=3
t_start=$(date +%s)
for k in $(seq 1 "$kills"); do
    sleep "$gap"
    leader=$(e2e_lease_holder)
    [ -n "$leader" ] || { sleep 2; leader=$(e2e_lease_holder); }
    [ -n "$leader" ] || e2e_fail "no leader at kill $k"
    sig=TERM; [ $((k % 2)) -eq 0 ] && sig=KILL
    kill -$sig "$(pid_of "$leader")" 2>/dev/null || true
    e2e_start_replica "r$next" "${lease_args[@]}"
    wait "$(pid_of "$leader")" 2>/dev/null || true     # reaped here, not reported as "Killed"
    next=$((next + 1))
done
touch "$E2E_DIR/stop-writer"
wait "$writer" 2>/dev/null || true
changes=$(wc -l <"$E2E_DIR/changes")
e2e_log "$kills leader kills, $changes ConfigMap changes in $(($(date +%s) - t_start)) s"

# Settle: every Deployment's record equals its ConfigMap's current hash.
expected() { # writes "configmap hash" lines
    kubectl get cm -n "$ns" -o json | jq -r '.items[] | "\(.metadata.name) \(.data | to_entries | map("\(.key)=\(.value)") | sort | join(";"))"' |
        while read -r cm pre; do echo "$cm $(printf '%s' "$pre" | sha1sum | cut -c1-40)"; done >"$E2E_DIR/hashes"
}
settled() {
    expected
    e2e_records "$ns" >"$E2E_DIR/records"
    local bad=0
    while read -r d rec; do
        i=${d#d-}; cm=cm-$((i % 100))
        want=$(grep "^$cm " "$E2E_DIR/hashes" | cut -d' ' -f2)
        got=$(jq -r --arg k "configmap/$cm" '.[$k] // ""' <<<"$rec")
        [ "$got" = "$want" ] || bad=$((bad + 1))
    done <"$E2E_DIR/records"
    echo "$bad" >"$E2E_DIR/unsettled"
    [ "$bad" -eq 0 ]
}
e2e_wait 60 "every record equal to its source's hash" settled
e2e_settled "$ns" 3

missed=0 dup=0
while read -r d g0; do
    i=${d#d-}; cm=cm-$((i % 100))
    want=$(grep -c "^$cm " "$E2E_DIR/changes" || true)
    got=$(( $(kubectl get deploy -n "$ns" "$d" -o jsonpath='{.metadata.generation}') - g0 ))
    [ "$got" -lt "$want" ] && { missed=$((missed + 1)); echo "$d: $got rollouts for $want versions" >&2; }
    [ "$got" -gt "$want" ] && { dup=$((dup + 1)); echo "$d: $got rollouts for $want versions" >&2; }
done <"$E2E_DIR/gen0"
e2e_log "200 Deployments: $missed with a missed reload, $dup with a duplicate rollout"
[ $missed -eq 0 ] && [ $dup -eq 0 ] || e2e_fail "rollouts do not match the versions followed"

audit=$(e2e_audit_single_writer "$since" "$ns")
e2e_log "audit: $(jq -c '{writes, leaseWrites, violations: (.violations | length)}' <<<"$audit")"
[ "$(jq '.violations | length' <<<"$audit")" -eq 0 ] || e2e_fail "writes by a non-holder: $(jq -r '.violations[]' <<<"$audit" | head -5)"
first=$(grep -ho 'seconds_after_acquire[=":]*[0-9.]*' "$E2E_DIR"/reloadd-r*.log | grep -o '[0-9.]*$' | sort -n)
e2e_log "first reconcile after acquiring: $(wc -l <<<"$first") acquisitions, median $(awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}' <<<"$first") s, max $(tail -1 <<<"$first") s"
