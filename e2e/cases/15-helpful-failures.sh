# Helpful failure: a bad regex, an auto value that is not a boolean and a
# source no container can take are each logged once per change, with the
# workload and the reason, and never stop the other workloads.
e2e_needs process-env
ns=$(e2e_ns bad)
e2e_cm "$ns" cfg a=1
e2e_deploy "$ns" bad-regex '{configmap.reloader.stakater.com/reload: "cf(g, cfg"}' "$(e2e_container)"
e2e_deploy "$ns" bad-bool '{reloader.stakater.com/auto: "yes"}' "$(e2e_container '        envFrom: [{configMapRef: {name: cfg}}]')"
e2e_deploy "$ns" good '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        envFrom: [{configMapRef: {name: cfg}}]')"
e2e_start_reloadd --namespaces="$ns"
e2e_wait_recorded "$ns" Deployment/good Deployment/bad-regex
e2e_generations "$ns" >"$E2E_DIR/gen0"
for v in 2 3; do
    e2e_cm "$ns" cfg a=$v
    sleep 2
done
log=$E2E_DIR/reloadd-0.log
# Fields come sorted by key (logfmt as logrus writes it): match each part on its own.
n_regex=$(grep "workload=deployment/$ns/bad-regex\b" "$log" | grep -c 'cf(g' || true)
n_bool=$(grep "workload=deployment/$ns/bad-bool\b" "$log" | grep -c 'not a boolean' || true)
e2e_log "warnings: bad regex $n_regex, bad boolean $n_bool"
[ "$n_regex" -eq 1 ] || e2e_fail "the bad regex was logged $n_regex times, want once"
[ "$n_bool" -eq 1 ] || e2e_fail "the non-boolean auto value was logged $n_bool times, want once"
# The valid item of the list still matches; the good workload rolled; bad-bool did not.
g_regex=$(grep '^Deployment/bad-regex=' "$E2E_DIR/gen0" | cut -d= -f2)
g_good=$(grep '^Deployment/good=' "$E2E_DIR/gen0" | cut -d= -f2)
g_bool=$(grep '^Deployment/bad-bool=' "$E2E_DIR/gen0" | cut -d= -f2)
[ "$(e2e_generation "$ns" Deployment/good)" -eq $((g_good + 2)) ] || e2e_fail "good did not roll twice"
[ "$(e2e_generation "$ns" Deployment/bad-regex)" -eq $((g_regex + 2)) ] || e2e_fail "bad-regex's valid item did not apply"
[ "$(e2e_generation "$ns" Deployment/bad-bool)" -eq "$g_bool" ] || e2e_fail "auto: yes rolled (Go's ParseBool says false)"

# A Lease reloadd may not touch: the warning carries the API server's own
# words (which verb, which resource, which namespace), not just "forbidden".
e2e_log "a Lease in a namespace without RBAC: the API server's reason is logged"
port=$(e2e_free_port)
POD_NAME=no-lease POD_NAMESPACE="$ns" "$RELOADD_BIN" --kubeconfig="$RELOADD_CONTROLLER_KUBECONFIG" \
    --enable-ha --metrics-addr="127.0.0.1:$port" --explain-addr=off --namespaces="$ns" \
    >"$E2E_DIR/no-lease.log" 2>&1 &
pid=$!
E2E_PIDS+=("$pid")
e2e_wait 20 "the lease warning" grep -q "cannot acquire lease" "$E2E_DIR/no-lease.log"
e2e_stop_reloadd "$pid"
grep -q 'cannot get resource \\"leases\\"' <<<"$(grep "cannot acquire lease" "$E2E_DIR/no-lease.log")" ||
    e2e_fail "the lease warning lacks the API server's message: $(grep 'cannot acquire lease' "$E2E_DIR/no-lease.log")"
