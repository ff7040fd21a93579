# Scoping and event options: --namespace-selector, --namespaces-to-ignore,
# --resource-label-selector, --auto-reload-all, --reload-on-create,
# --reload-on-delete, --ignored-workload-types.
e2e_needs audit-log
sel=$(e2e_ns sel)
other=$(e2e_ns other)
ignored=$(e2e_ns ign)
kubectl label namespace "$sel" "$ignored" reloadd-e2e=yes >/dev/null
for ns in "$sel" "$other" "$ignored"; do
    e2e_cm "$ns" cfg a=1
    kubectl label configmap -n "$ns" cfg watch=me >/dev/null
    e2e_cm "$ns" unlabelled a=1
    e2e_deploy "$ns" auto '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        envFrom: [{configMapRef: {name: cfg}}, {configMapRef: {name: unlabelled}}]')"
    e2e_deploy "$ns" plain '{}' "$(e2e_container '        envFrom: [{configMapRef: {name: cfg}}]')"
    e2e_deploy "$ns" optout '{reloader.stakater.com/auto: "false"}' "$(e2e_container '        envFrom: [{configMapRef: {name: cfg}}]')"
    e2e_deploy "$ns" late '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        envFrom: [{configMapRef: {name: later, optional: true}}]')"
    kubectl label configmap -n "$ns" unlabelled watch- >/dev/null 2>&1 || true
done

e2e_start_reloadd --namespace-selector=reloadd-e2e=yes --namespaces-to-ignore="$ignored" \
    --resource-label-selector=watch=me --auto-reload-all --reload-on-create=true --reload-on-delete=true
e2e_wait_recorded "$sel" Deployment/auto Deployment/plain
for ns in "$sel" "$other" "$ignored"; do e2e_generations "$ns" >"$E2E_DIR/gen-$ns"; done

e2e_log "labelled ConfigMap changes everywhere; only the selected namespace reacts"
for ns in "$sel" "$other" "$ignored"; do e2e_cm "$ns" cfg a=2; kubectl label configmap -n "$ns" cfg watch=me --overwrite >/dev/null; done
e2e_expect_rolled "$sel" "$E2E_DIR/gen-$sel" Deployment/auto Deployment/plain
E2E_SETTLE=0 e2e_expect_rolled "$other" "$E2E_DIR/gen-$other"
E2E_SETTLE=0 e2e_expect_rolled "$ignored" "$E2E_DIR/gen-$ignored"

e2e_log "an unlabelled ConfigMap is outside --resource-label-selector"
e2e_generations "$sel" >"$E2E_DIR/gen-sel-1"
e2e_cm "$sel" unlabelled a=2
e2e_expect_rolled "$sel" "$E2E_DIR/gen-sel-1"

e2e_log "--reload-on-create: a referenced ConfigMap appears"
e2e_generations "$sel" >"$E2E_DIR/gen-sel-2"
e2e_cm "$sel" later x=1
kubectl label configmap -n "$sel" later watch=me >/dev/null
e2e_expect_rolled "$sel" "$E2E_DIR/gen-sel-2" Deployment/late

e2e_log "--reload-on-delete: a referenced ConfigMap goes away"
e2e_generations "$sel" >"$E2E_DIR/gen-sel-3"
kubectl delete configmap -n "$sel" later >/dev/null
e2e_expect_rolled "$sel" "$E2E_DIR/gen-sel-3" Deployment/late
kubectl get -n "$sel" deployment/late -o json |
    jq -e '[.spec.template.spec.containers[0].env // [] | .[] | select(.name=="STAKATER_LATER_CONFIGMAP")] | length == 0' >/dev/null ||
    e2e_fail "the env var of the deleted ConfigMap is still there"
