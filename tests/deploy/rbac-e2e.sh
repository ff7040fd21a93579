#!/usr/bin/env bash
# tests/deploy/rbac-e2e.sh RELOADD_BINARY [CASE...] - the full e2e suite with
# reloadd running as the ServiceAccount reloadd/reloadd, bound by exactly the
# RBAC objects of deploy/kubernetes (kubectl kustomize output), so that the
# manifests' roles are shown to be enough. Needs a tools/cluster cluster
# (RELOADD_CLUSTER_DIR, KUBECONFIG, kubectl on PATH).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:?usage: tests/deploy/rbac-e2e.sh RELOADD_BINARY [CASE...]}
shift
[ -n "${RELOADD_CLUSTER_DIR:-}" ] && [ -n "${KUBECONFIG:-}" ] ||
    { echo "rbac-e2e: needs a tools/cluster cluster: eval \"\$(tools/cluster up)\"" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/reloadd-rbac-e2e.XXXXXX")
trap 'rm -rf "$work"' EXIT

kubectl kustomize "$root/deploy/kubernetes" | python3 -c '
import sys, json, yaml
keep = {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
print(json.dumps({"apiVersion": "v1", "kind": "List",
                  "items": [d for d in yaml.safe_load_all(sys.stdin) if d and d["kind"] in keep]}))' >"$work/rbac.json"
kubectl apply -f "$work/rbac.json" >/dev/null
token=$(kubectl create token reloadd -n reloadd --duration=2h)
cat >"$work/sa.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "$RELOADD_APISERVER_URL", certificate-authority: "$RELOADD_CLUSTER_CA"}}]
users: [{name: reloadd, user: {token: "$token"}}]
contexts: [{name: local, context: {cluster: local, user: reloadd, namespace: reloadd}}]
current-context: local
KC
chmod 600 "$work/sa.kubeconfig"
echo "rbac-e2e: reloadd runs as system:serviceaccount:reloadd:reloadd (deploy/kubernetes RBAC only)"
RELOADD_CONTROLLER_KUBECONFIG=$work/sa.kubeconfig RELOADD_CONTROLLER_TOKEN_KUBECONFIG=$work/sa.kubeconfig \
    "$root/e2e/run.sh" "$bin" "$@"
