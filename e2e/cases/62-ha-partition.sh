# Partition: the leader is cut from the API server (a relay that goes
# silent). It must stop writing before its lease can expire, a follower
# must take over, and the cut replica must stay up and rejoin as follower.
e2e_needs replicas fault-proxy
ns=$(e2e_ns part)
kubectl delete lease -n reloadd stakater-reloader-lock --ignore-not-found >/dev/null
lease_args=(--lease-duration=4s --renew-deadline=3s --retry-period=500ms --namespaces="$ns")
e2e_cm "$ns" cfg v=0
e2e_deploy "$ns" app '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        envFrom: [{configMapRef: {name: cfg}}]')"

# The replica "cut" reaches the API server only through the relay.
relay_port=$(e2e_free_port)
api_port=${RELOADD_APISERVER_URL##*:}
python3 "$(dirname "${BASH_SOURCE[0]}")/../tools/relay.py" "$relay_port" 127.0.0.1 "$api_port" \
    >"$E2E_DIR/relay.log" 2>&1 &
relay=$!
E2E_PIDS+=("$relay")
e2e_wait 10 "relay listening" bash -c "exec 3<>/dev/tcp/127.0.0.1/$relay_port"
kc=$(e2e_identity cut)
jq --arg s "https://127.0.0.1:$relay_port" '.clusters[0].cluster.server = $s' "$kc" >"$kc.relay"
mv "$kc.relay" "$kc"
port=$(e2e_free_port)
POD_NAME=cut POD_NAMESPACE=reloadd "$RELOADD_BIN" --kubeconfig="$kc" --enable-ha \
    --metrics-addr="127.0.0.1:$port" --explain-addr=off "${lease_args[@]}" >"$E2E_DIR/reloadd-cut.log" 2>&1 &
cut_pid=$!
E2E_PIDS+=("$cut_pid")
e2e_wait 20 "the relayed replica leads" bash -c "[ \"\$(kubectl get lease -n reloadd stakater-reloader-lock -o jsonpath='{.spec.holderIdentity}')\" = cut ]"
for r in f1 f2; do e2e_start_replica "$r" "${lease_args[@]}"; done
e2e_wait_recorded "$ns" Deployment/app

t_cut=$(date +%s%3N)
kill -USR1 "$relay"
e2e_wait 15 "a follower leads" bash -c "h=\$(kubectl get lease -n reloadd stakater-reloader-lock -o jsonpath='{.spec.holderIdentity}'); [ \"\$h\" = f1 ] || [ \"\$h\" = f2 ]"
new=$(e2e_lease_holder)
e2e_wait 10 "the cut leader steps down" grep -q "no longer leader" "$E2E_DIR/reloadd-cut.log"
t_down=$(grep -h "no longer leader" "$E2E_DIR/reloadd-cut.log" | head -1 | e2e_log_ms)
t_new=$(grep -h "became leader" "$E2E_DIR/reloadd-$new.log" | head -1 | e2e_log_ms)
e2e_log "cut at +0 ms; old leader stopped writing at +$((t_down - t_cut)) ms; $new leads at +$((t_new - t_cut)) ms"
[ "$t_down" -lt "$t_new" ] || e2e_fail "the cut leader stepped down after the follower took over"

gen=$(e2e_generation "$ns" Deployment/app)
e2e_cm "$ns" cfg v=1
e2e_wait 10 "the new leader reloads" bash -c "[ \$(kubectl get -n $ns deployment/app -o jsonpath='{.metadata.generation}') -gt $gen ]"

kill -USR2 "$relay"
kill -0 "$cut_pid" || e2e_fail "the cut replica exited"
e2e_wait 15 "the cut replica is live and sees the new leader" bash -c \
    "curl -fsS http://127.0.0.1:$port/live >/dev/null && grep -q \"new leader.*holder=$new\" $E2E_DIR/reloadd-cut.log"
[ "$(e2e_lease_holder)" = "$new" ] || e2e_fail "leadership moved back after healing"
