# Every annotation form and every reference form, for both strategies:
# the right Deployments roll once within 5 s of a change; the others not at all.
e2e_needs audit-log
for strategy in env-vars annotations; do
ns=$(e2e_ns forms)
e2e_log "strategy $strategy in $ns"

e2e_cm "$ns" cm-one a=1
e2e_cm "$ns" cm-two b=1
e2e_cm "$ns" cm-ignored c=1
kubectl annotate configmap -n "$ns" cm-ignored reloader.stakater.com/ignore=true >/dev/null
e2e_cm "$ns" cm-match d=1
kubectl annotate configmap -n "$ns" cm-match reloader.stakater.com/match=true >/dev/null
e2e_secret "$ns" sec-one s=1

envfrom_one='        envFrom: [{configMapRef: {name: cm-one}}]'
e2e_deploy "$ns" auto '{reloader.stakater.com/auto: "true"}' "$(e2e_container "$envfrom_one")"
e2e_deploy "$ns" typed-auto '{configmap.reloader.stakater.com/auto: "true"}' "$(e2e_container '        volumeMounts: [{name: v, mountPath: /c}]')
      volumes: [{name: v, configMap: {name: cm-one}}]"
e2e_deploy "$ns" typed-auto-other '{secret.reloader.stakater.com/auto: "true"}' "$(e2e_container "$envfrom_one")"
e2e_deploy "$ns" named-regex '{configmap.reloader.stakater.com/reload: "cm-o.*, nothing"}' "$(e2e_container)"
e2e_deploy "$ns" named-other '{configmap.reloader.stakater.com/reload: "cm-two"}' "$(e2e_container "$envfrom_one")"
e2e_deploy "$ns" search '{reloader.stakater.com/search: "true"}' "$(e2e_container '        envFrom: [{configMapRef: {name: cm-match}}, {configMapRef: {name: cm-one}}]')"
e2e_deploy "$ns" ignored '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        envFrom: [{configMapRef: {name: cm-ignored}}]')"
e2e_deploy "$ns" excluded '{reloader.stakater.com/auto: "true", configmaps.exclude.reloader.stakater.com/reload: "cm-one"}' "$(e2e_container "$envfrom_one")"
e2e_deploy "$ns" optout '{reloader.stakater.com/auto: "false"}' "$(e2e_container "$envfrom_one")"
e2e_deploy "$ns" plain '{}' "$(e2e_container "$envfrom_one")"
e2e_deploy "$ns" envkey '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        env: [{name: A, valueFrom: {configMapKeyRef: {name: cm-one, key: a}}}]')"
e2e_deploy "$ns" projected '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        volumeMounts: [{name: p, mountPath: /p}]')
      volumes: [{name: p, projected: {sources: [{configMap: {name: cm-one}}, {secret: {name: sec-one}}]}}]"
e2e_deploy "$ns" init '{reloader.stakater.com/auto: "true"}' "      initContainers:
      - name: init
        image: registry.invalid/init:1
        envFrom: [{configMapRef: {name: cm-one}}]
$(e2e_container)"
e2e_deploy "$ns" pod-template-auto '{}' "$(e2e_container "$envfrom_one")"
kubectl patch deployment -n "$ns" pod-template-auto --type=merge \
    -p '{"spec":{"template":{"metadata":{"annotations":{"reloader.stakater.com/auto":"true"}}}}}' >/dev/null
e2e_deploy "$ns" secret-auto '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        envFrom: [{secretRef: {name: sec-one}}]')"

e2e_start_reloadd --reload-strategy="$strategy" --namespaces="$ns"
all=(auto typed-auto named-regex search envkey projected init pod-template-auto secret-auto named-other)
e2e_wait_recorded "$ns" $(printf 'Deployment/%s ' "${all[@]}")
e2e_generations "$ns" >"$E2E_DIR/gen-$strategy-0"

e2e_log "change cm-one"
e2e_cm "$ns" cm-one a=2
e2e_expect_rolled "$ns" "$E2E_DIR/gen-$strategy-0" Deployment/auto Deployment/typed-auto \
    Deployment/named-regex Deployment/envkey Deployment/projected Deployment/init \
    Deployment/pod-template-auto

e2e_log "change cm-match (search + match)"
e2e_generations "$ns" >"$E2E_DIR/gen-$strategy-1"
e2e_cm "$ns" cm-match d=2
e2e_expect_rolled "$ns" "$E2E_DIR/gen-$strategy-1" Deployment/search

e2e_log "change cm-ignored (ignore annotation on the ConfigMap)"
e2e_generations "$ns" >"$E2E_DIR/gen-$strategy-2"
e2e_cm "$ns" cm-ignored c=2
e2e_expect_rolled "$ns" "$E2E_DIR/gen-$strategy-2"

e2e_log "change sec-one and cm-two"
e2e_generations "$ns" >"$E2E_DIR/gen-$strategy-3"
e2e_secret "$ns" sec-one s=2
e2e_cm "$ns" cm-two b=2
e2e_expect_rolled "$ns" "$E2E_DIR/gen-$strategy-3" Deployment/projected Deployment/secret-auto \
    Deployment/named-other

if [ "$strategy" = env-vars ]; then
    v=$(kubectl get -n "$ns" deployment/auto -o json |
        jq -r '.spec.template.spec.containers[0].env[] | select(.name=="STAKATER_CM_ONE_CONFIGMAP") | .value')
    [ "$v" = "$(kubectl get cm -n "$ns" cm-one -o json | jq -j '.data | to_entries | map("\(.key)=\(.value)") | sort | join(";")' | sha1sum | cut -c1-40)" ] ||
        e2e_fail "STAKATER_CM_ONE_CONFIGMAP is '$v', not the docs/reloader.md §4.1 hash of cm-one"
else
    kubectl get -n "$ns" deployment/auto -o json |
        jq -e '.spec.template.metadata.annotations["reloader.stakater.com/last-reloaded-from"] | fromjson | .name == "cm-one" and .type == "CONFIGMAP"' >/dev/null ||
        e2e_fail "last-reloaded-from does not name cm-one"
fi
e2e_stop_reloadd "$E2E_RELOADD_PID"
done
