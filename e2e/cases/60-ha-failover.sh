# High availability with three replicas: one leader at a time (checked
# from the API server's audit log), graceful handover on SIGTERM, crash
# failover on SIGKILL within lease duration + 1 s, and reloads throughout.
e2e_needs replicas signals audit-log
ns=$(e2e_ns ha)
since=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
lease_args=(--lease-duration=4s --renew-deadline=3s --retry-period=500ms --namespaces="$ns")
kubectl delete lease -n reloadd stakater-reloader-lock --ignore-not-found >/dev/null
e2e_cm "$ns" cfg v=0
e2e_deploy "$ns" app '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        envFrom: [{configMapRef: {name: cfg}}]')"
for r in r0 r1 r2; do e2e_start_replica "$r" "${lease_args[@]}"; done
e2e_wait 10 "a leader" bash -c "[ -n \"\$(kubectl get lease -n reloadd stakater-reloader-lock -o jsonpath='{.spec.holderIdentity}')\" ]"
e2e_wait_recorded "$ns" Deployment/app

pid_of() { local v="E2E_PID_$1"; echo "${!v}"; }
log_time_ms() { # file pattern -> ms of the last line matching $2
    grep -h "$2" "$1" | tail -1 | e2e_log_ms
}
gen_at_least() { [ "$(e2e_generation "$ns" Deployment/app)" -ge "$1" ]; }
version=0
change() { version=$((version + 1)); e2e_cm "$ns" cfg v=$version; }
gen0=$(e2e_generation "$ns" Deployment/app)
graceful=() crash=()
next=3
for round in 1 2 3 4 5 6; do
    leader=$(e2e_lease_holder)
    [ -n "$leader" ] || e2e_fail "no leader before round $round"
    mode=TERM; [ $((round % 2)) -eq 0 ] && mode=KILL
    t0=$(date +%s%3N)
    kill -$mode "$(pid_of "$leader")"
    e2e_wait 20 "a new leader after SIG$mode of $leader" bash -c \
        "h=\$(kubectl get lease -n reloadd stakater-reloader-lock -o jsonpath='{.spec.holderIdentity}'); [ -n \"\$h\" ] && [ \"\$h\" != $leader ]"
    new=$(e2e_lease_holder)
    wait "$(pid_of "$leader")" 2>/dev/null || true     # reaped here, not reported as "Killed"
    t1=$(log_time_ms "$E2E_DIR/reloadd-$new.log" "became leader")
    dt=$((t1 - t0))
    e2e_log "round $round: SIG$mode $leader -> $new became leader after $dt ms"
    if [ $mode = TERM ]; then graceful+=("$dt"); else crash+=("$dt"); fi
    [ $mode = KILL ] && [ "$dt" -gt 5000 ] && e2e_fail "crash failover took $dt ms > lease duration (4 s) + 1 s"
    # A change right after the handover is reloaded by the new leader.
    change
    e2e_wait 10 "reload of version $version" gen_at_least $((gen0 + version))
    e2e_start_replica "r$next" "${lease_args[@]}"
    next=$((next + 1))
done
e2e_settled "$ns" 3
final=$(e2e_generation "$ns" Deployment/app)
[ "$final" -eq $((gen0 + version)) ] || e2e_fail "app rolled $((final - gen0)) times for $version changes"
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
e2e_log "graceful handover (SIGTERM -> new leader): median $(median "${graceful[@]}") ms of ${graceful[*]}"
e2e_log "crash failover (SIGKILL -> new leader): median $(median "${crash[@]}") ms of ${crash[*]}"
audit=$(e2e_audit_single_writer "$since" "$ns")
e2e_log "audit: $(jq -c '{writes, leaseWrites, violations: (.violations | length)}' <<<"$audit")"
[ "$(jq '.violations | length' <<<"$audit")" -eq 0 ] || e2e_fail "writes by a non-holder: $(jq -r '.violations[]' <<<"$audit")"
[ "$(jq '.writes' <<<"$audit")" -gt 0 ] || e2e_fail "the audit log shows no workload write at all"
