# The local control plane is real: version, rollouts through kwok, new
# ReplicaSets on template edits, RBAC on the controller's identity.
e2e_needs server=v1.36.3
ns=$(e2e_ns cluster)

ver=$(kubectl version -o json | jq -r .serverVersion.gitVersion)
e2e_log "server version $ver"
[ "$ver" = v1.36.3 ] || e2e_fail "server version is $ver, want v1.36.3"

"$RELOADD_BIN" --help >/dev/null || e2e_fail "reloadd --help failed"
grep -q '^reloadd ' <<<"$("$RELOADD_BIN" --version)" || e2e_fail "reloadd --version"
rc=0; "$RELOADD_BIN" --no-such-flag 2>/dev/null || rc=$?
[ $rc -eq 2 ] || e2e_fail "unknown flag gave exit $rc, want 2"

kubectl create deployment web -n "$ns" --image=registry.invalid/web:1 --replicas=3 >/dev/null
kubectl rollout status -n "$ns" deployment/web --timeout=90s
running=$(kubectl get pods -n "$ns" -o json | jq '[.items[] | select(.status.phase=="Running")] | length')
[ "$running" -eq 3 ] || e2e_fail "$running pods Running, want 3"

kubectl set env -n "$ns" deployment/web CHANGED=1 >/dev/null
kubectl rollout status -n "$ns" deployment/web --timeout=90s
rs=$(kubectl get rs -n "$ns" -o name | wc -l)
[ "$rs" -eq 2 ] || e2e_fail "$rs ReplicaSets after a template edit, want 2"

out=$(kubectl --kubeconfig="$RELOADD_CONTROLLER_KUBECONFIG" delete configmap -n "$ns" nothing 2>&1) && \
    e2e_fail "the controller could delete a ConfigMap"
grep -q Forbidden <<<"$out" || e2e_fail "want Forbidden, got: $out"
kubectl --kubeconfig="$RELOADD_CONTROLLER_KUBECONFIG" get configmaps -n "$ns" >/dev/null || \
    e2e_fail "the controller cannot list ConfigMaps"
e2e_log "RBAC: delete configmap refused (403), list allowed"
