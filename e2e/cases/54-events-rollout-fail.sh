# Events beyond the plain case: an Argo Rollout gets its "Reloaded" Event
# (Reloader drops those, docs/reloader.md §15.27), and a write the API server refuses (a
# ValidatingAdmissionPolicy) gives a Warning "ReloadFail" with Reloader's
# text, counted as reloader_reload_executed_total{success="false"}.
ns=$(e2e_ns events)
kubectl apply -f "$(dirname "${BASH_SOURCE[0]}")/../fixtures/argo-rollout-crd.yaml" >/dev/null
kubectl wait --for=condition=Established crd/rollouts.argoproj.io --timeout=30s >/dev/null

e2e_cm "$ns" cfg v=0
kubectl apply -n "$ns" -f - >/dev/null <<YAML
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: ro
  annotations: {reloader.stakater.com/auto: "true"}
spec:
  replicas: 1
  selector: {matchLabels: {app: ro}}
  template:
    metadata: {labels: {app: ro}}
    spec:
      containers:
      - name: app
        image: registry.invalid/app:1
        envFrom: [{configMapRef: {name: cfg}}]
YAML
e2e_deploy "$ns" locked '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        envFrom: [{configMapRef: {name: cfg}}]')"

e2e_start_reloadd --namespaces="$ns" --is-Argo-Rollouts=true --coalesce-window=200ms
e2e_wait_recorded "$ns" Rollout/ro Deployment/locked

# From now on the API server refuses every update of "locked" made by reloadd.
policy=reloadd-e2e-deny-$ns
kubectl apply -f - >/dev/null <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: $policy}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [UPDATE]
      resources: [deployments]
  matchConditions:
  - name: only-locked
    expression: 'object.metadata.name == "locked" && object.metadata.namespace == "$ns"'
  validations:
  - expression: 'false'
    message: locked by the e2e test
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: $policy}
spec:
  policyName: $policy
  validationActions: [Deny]
YAML
cleanup_policy() { kubectl delete validatingadmissionpolicybinding,validatingadmissionpolicy "$policy" --ignore-not-found >/dev/null 2>&1 || true; }
trap 'rc=$?; cleanup_policy; (exit $rc); e2e_cleanup' EXIT
# The policy is in force once a probe update is refused.
e2e_wait 20 "the admission policy in force" bash -c "! kubectl annotate -n $ns deployment/locked probe=\$RANDOM --overwrite"

before=$(curl -fsS "http://127.0.0.1:$E2E_RELOADD_PORT/metrics" | awk '/^reloader_reload_executed_total\{success="false"\}/ {print $2}')
e2e_cm "$ns" cfg v=1
e2e_wait 15 "Reloaded event on the Rollout" bash -c \
    "[ \"\$(kubectl get events -n $ns --field-selector involvedObject.name=ro,reason=Reloaded -o json | jq '.items | length')\" = 1 ]"
ev=$(kubectl get events -n "$ns" --field-selector involvedObject.name=ro,reason=Reloaded -o json | jq '.items[0]')
jq -e --arg ns "$ns" '.type == "Normal" and .involvedObject.kind == "Rollout" and .involvedObject.apiVersion == "argoproj.io/v1alpha1"
    and .message == "Changes detected in '"'"'cfg'"'"' of type '"'"'CONFIGMAP'"'"' in namespace '"'"'\($ns)'"'"', Updated '"'"'ro'"'"' of type '"'"'Rollout'"'"' in namespace '"'"'\($ns)'"'"'"' \
    <<<"$ev" >/dev/null || e2e_fail "Rollout event: $ev"
e2e_log "Rollout: $(jq -r .message <<<"$ev")"

e2e_wait 15 "ReloadFail event on locked" bash -c \
    "[ \"\$(kubectl get events -n $ns --field-selector involvedObject.name=locked,reason=ReloadFail -o json | jq '.items | length')\" -ge 1 ]"
ev=$(kubectl get events -n "$ns" --field-selector involvedObject.name=locked,reason=ReloadFail -o json | jq '.items[0]')
jq -e --arg ns "$ns" '.type == "Warning" and .source.component == "reloader-configmaps"
    and (.message | startswith("Update for '"'"'locked'"'"' of type '"'"'Deployment'"'"' in namespace '"'"'\($ns)'"'"' failed with error "))' \
    <<<"$ev" >/dev/null || e2e_fail "ReloadFail event: $ev"
e2e_log "locked: $(jq -r .message <<<"$ev")"
sleep 3
n_fail=$(kubectl get events -n "$ns" --field-selector involvedObject.name=locked,reason=ReloadFail -o json | jq '.items | length')
after=$(curl -fsS "http://127.0.0.1:$E2E_RELOADD_PORT/metrics" | awk '/^reloader_reload_executed_total\{success="false"\}/ {print $2}')
e2e_log "failed writes so far: $(( ${after%.*} - ${before%.*} )), ReloadFail events: $n_fail"
(( ${after%.*} - ${before%.*} >= 2 )) || e2e_fail "reload_executed_total{success=false} moved by less than 2 ($before -> $after)"
# Retries fail again and again; one Warning per workload and minute.
[ "$n_fail" = 1 ] || e2e_fail "$n_fail ReloadFail events, want 1 for repeated failures"

e2e_log "lift the policy: the retry succeeds and records Reloaded"
cleanup_policy
e2e_wait 60 "Reloaded event on locked after the policy is gone" bash -c \
    "[ \"\$(kubectl get events -n $ns --field-selector involvedObject.name=locked,reason=Reloaded -o json | jq '.items | length')\" = 1 ]"
e2e_stop_reloadd "$E2E_RELOADD_PID"
