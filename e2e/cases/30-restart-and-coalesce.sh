# The reconcile contract across restarts: --sync-after-restart with nothing
# changed rolls nothing; a change made while reloadd was down rolls its
# dependents exactly once; three changes inside the window give one rollout;
# Reloader's own markers are honoured (no rollout when the hash matches).
e2e_needs audit-log
ns=$(e2e_ns restart)
for i in 1 2 3; do e2e_cm "$ns" cm-$i v=1; done
three='        envFrom: [{configMapRef: {name: cm-1}}, {configMapRef: {name: cm-2}}, {configMapRef: {name: cm-3}}]'
e2e_deploy "$ns" a '{reloader.stakater.com/auto: "true"}' "$(e2e_container "$three")"
e2e_deploy "$ns" b '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        envFrom: [{configMapRef: {name: cm-1}}]')"
e2e_deploy "$ns" c '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        envFrom: [{configMapRef: {name: cm-2}}]')"

hash_of() { kubectl get cm -n "$ns" "$1" -o json | jq -j '.data | to_entries | map("\(.key)=\(.value)") | sort | join(";")' | sha1sum | cut -c1-40; }
# Reloader-made markers, written by hand exactly as Reloader writes them.
e2e_deploy "$ns" by-reloader-env '{reloader.stakater.com/auto: "true"}' "$(e2e_container "        envFrom: [{configMapRef: {name: cm-3}}]
        env: [{name: STAKATER_CM_3_CONFIGMAP, value: \"$(hash_of cm-3)\"}]")"
lrf=$(jq -cn --arg h "$(hash_of cm-3)" '{type:"CONFIGMAP",name:"cm-3",namespace:"x",hash:$h,containerRefs:["app"],observedAt:1700000000}')
e2e_deploy "$ns" by-reloader-ann '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        envFrom: [{configMapRef: {name: cm-3}}]')"
kubectl patch deployment -n "$ns" by-reloader-ann --type=merge -p "$(jq -cn --arg v "$lrf" '{spec:{template:{metadata:{annotations:{"reloader.stakater.com/last-reloaded-from":$v}}}}}')" >/dev/null

# The env-vars replica must not roll by-reloader-env; the annotations one not by-reloader-ann.
e2e_start_reloadd --namespaces="$ns" --sync-after-restart
e2e_wait_recorded "$ns" Deployment/a Deployment/b Deployment/c Deployment/by-reloader-env
e2e_generations "$ns" >"$E2E_DIR/gen0"
e2e_stop_reloadd "$E2E_RELOADD_PID"
e2e_start_reloadd --namespaces="$ns" --sync-after-restart --reload-strategy=annotations
e2e_wait_recorded "$ns" Deployment/by-reloader-ann
e2e_stop_reloadd "$E2E_RELOADD_PID"
e2e_log "Reloader's markers honoured: nothing rolled"
e2e_expect_rolled "$ns" "$E2E_DIR/gen0"

e2e_log "restart with --sync-after-restart, nothing changed"
e2e_start_reloadd --namespaces="$ns" --sync-after-restart
e2e_expect_rolled "$ns" "$E2E_DIR/gen0"
e2e_stop_reloadd "$E2E_RELOADD_PID"

e2e_log "change cm-1 while reloadd is down, then start it"
e2e_cm "$ns" cm-1 v=2
e2e_generations "$ns" >"$E2E_DIR/gen1"
e2e_start_reloadd --namespaces="$ns" --sync-after-restart
e2e_expect_rolled "$ns" "$E2E_DIR/gen1" Deployment/a Deployment/b

e2e_log "three sources of one workload changed within the window"
e2e_generations "$ns" >"$E2E_DIR/gen2"
# Three updates back to back, as `helm upgrade` makes them (raw API calls:
# kubectl's own pace on a loaded machine can exceed the window).
e2e_admin_curl_setup
for i in 1 2 3; do
    e2e_admin_curl -X PATCH -H 'Content-Type: application/merge-patch+json' \
        -d '{"data":{"v":"3"}}' "/api/v1/namespaces/$ns/configmaps/cm-$i"
done
e2e_expect_rolled "$ns" "$E2E_DIR/gen2" Deployment/a Deployment/b Deployment/c \
    Deployment/by-reloader-env Deployment/by-reloader-ann
