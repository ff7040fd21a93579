#!/usr/bin/env bash
# tests/deploy/incluster.sh [IMAGE] - the container image, configured as a pod
# would be, against the local control plane.
#
# Runs the image's own /reloadd (buildah, chroot isolation, the image's user
# 65532) with in-cluster configuration only: no kubeconfig, a ServiceAccount
# token, CA and namespace mounted at /var/run/secrets/kubernetes.io/
# serviceaccount, and KUBERNETES_SERVICE_HOST/PORT set. The ServiceAccount
# is reloadd/reloadd bound by exactly the RBAC of deploy/kubernetes
# (kubectl kustomize output: ClusterRole, Role and their bindings). Then the
# smoke scenario: /readyz, an auto-annotated Deployment rolls when its
# ConfigMap changes, the Lease names the pod, metrics count the reload, the
# process runs as uid 65532, and SIGTERM releases the Lease.
#
# Needs: a cluster from tools/cluster (RELOADD_CLUSTER_DIR, KUBECONFIG,
# kubectl on PATH) and the image in buildah's store (default
# localhost/reloadd:latest; scripts/image.sh builds it).
# Prints "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
image=${1:-localhost/reloadd:latest}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
finish() { echo; echo "incluster: $pass passed, $fail failed"; [ $fail -eq 0 ]; exit; }
die() { bad "$*"; finish; }
# wait_for SECONDS CMD...: poll CMD until it succeeds.
wait_for() {
    local end=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do ((SECONDS < end)) || return 1; sleep 0.3; done
}

[ -n "${RELOADD_CLUSTER_DIR:-}" ] && [ -n "${KUBECONFIG:-}" ] && command -v kubectl >/dev/null ||
    { echo "incluster: needs a tools/cluster cluster: eval \"\$(tools/cluster up)\"" >&2; exit 1; }
# shellcheck disable=SC1091
. "$RELOADD_CLUSTER_DIR/cluster.env"
export BUILDAH_ISOLATION=chroot
B=(buildah --storage-driver vfs)
"${B[@]}" inspect --type image "$image" >/dev/null 2>&1 ||
    { echo "incluster: image $image not in buildah's store; run scripts/image.sh" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/reloadd-incluster.XXXXXX")
ctr="" runpid="" ns=""
cleanup() {
    [ -z "$runpid" ] || { kill -TERM "$runpid" 2>/dev/null; wait "$runpid" 2>/dev/null; }
    [ -z "$ctr" ] || "${B[@]}" rm "$ctr" >/dev/null 2>&1
    [ -z "$ns" ] || kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

# The controller's identity: exactly the RBAC objects of deploy/kubernetes.
kubectl kustomize deploy/kubernetes | python3 -c '
import sys, json, yaml
keep = {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
print(json.dumps({"apiVersion": "v1", "kind": "List",
                  "items": [d for d in yaml.safe_load_all(sys.stdin) if d and d["kind"] in keep]}))' \
    >"$work/rbac.json" || die "kubectl kustomize deploy/kubernetes"
kubectl apply -f "$work/rbac.json" >/dev/null 2>&1 && ok "applied the RBAC of deploy/kubernetes" || die "apply RBAC"

# What the kubelet would mount for the pod.
sa=$work/serviceaccount
mkdir -p "$sa"
kubectl create token reloadd -n reloadd --duration=1h >"$sa/token" || die "kubectl create token"
cp "$RELOADD_CLUSTER_CA" "$sa/ca.crt"
printf reloadd >"$sa/namespace"
chmod 0755 "$sa"; chmod 0644 "$sa"/*
ok "ServiceAccount token, CA and namespace in a pod-style directory"

port=$( (ss -Htan | awk '{print $4}' | sed 's/.*://'; echo) | sort -u | awk 'BEGIN{srand()} {u[$1]=1} END{do p=20000+int(rand()*30000); while (p in u); print p}')
pod=reloadd-incluster-$(openssl rand -hex 3)
ctr=$("${B[@]}" from --pull=never "$image") || die "buildah from $image"
log=$work/reloadd.log
# Host network (chroot isolation): the API server is on 127.0.0.1.
"${B[@]}" run --isolation chroot \
    -v "$sa:/var/run/secrets/kubernetes.io/serviceaccount:ro" \
    --env KUBERNETES_SERVICE_HOST=127.0.0.1 --env "KUBERNETES_SERVICE_PORT=$APISERVER_PORT" \
    --env "POD_NAME=$pod" --env POD_NAMESPACE=reloadd \
    --env RELOADER_NAMESPACE=reloadd --env RELOADER_DEPLOYMENT_NAME=reloadd \
    "$ctr" -- /reloadd --enable-ha=true --metrics-addr="127.0.0.1:$port" --coalesce-window=200ms \
    >"$log" 2>&1 &
runpid=$!
url=http://127.0.0.1:$port
if wait_for 60 curl -fsS "$url/readyz"; then
    ok "/readyz answers 200 (in-cluster config, RBAC-limited identity)"
else
    bad "/readyz not ready within 60 s"; tail -30 "$log" | sed 's/^/       /'; finish
fi
curl -fsS "$url/live" >/dev/null && ok "/live answers 200" || bad "/live"

# The process is the image's /reloadd, running as 65532.
pid=$(ss -Hltnp "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
if [ -n "$pid" ] && [ "$(awk '/^Uid:/ {print $2 ":" $3}' "/proc/$pid/status")" = 65532:65532 ]; then
    ok "reloadd (pid $pid) runs as uid 65532"
else
    bad "reloadd's uid: $(awk '/^Uid:/' "/proc/${pid:-0}/status" 2>/dev/null)"
fi

holder() { kubectl get lease -n reloadd stakater-reloader-lock -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
if wait_for 30 test "$(holder)" = "$pod"; then ok "Lease stakater-reloader-lock held by $pod"
else bad "Lease holder is '$(holder)', want $pod"; fi

# Smoke: an auto-annotated Deployment rolls when its ConfigMap changes.
ns=e2e-incluster-$(openssl rand -hex 3)
kubectl create namespace "$ns" >/dev/null
kubectl create configmap -n "$ns" app-config --from-literal=k=v1 >/dev/null
kubectl apply -n "$ns" -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  annotations: {reloader.stakater.com/auto: "true"}
spec:
  replicas: 1
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
        - name: app
          image: registry.invalid/app:1
          envFrom: [{configMapRef: {name: app-config}}]
YAML
kubectl rollout status -n "$ns" deployment/app --timeout=90s >/dev/null && ok "Deployment app rolled out" || bad "Deployment app not ready"
sleep 2
before=$(kubectl get -n "$ns" deployment/app -o jsonpath='{.spec.template}')
kubectl create configmap -n "$ns" app-config --from-literal=k=v2 --dry-run=client -o yaml | kubectl apply -f - >/dev/null 2>&1
rolled() {
    kubectl get -n "$ns" deployment/app -o json |
        jq -e '.spec.template.spec.containers[0].env // [] | map(.name) | any(startswith("STAKATER_APP_CONFIG_CONFIGMAP"))'
}
if wait_for 20 rolled; then
    ok "ConfigMap change rolled the Deployment (STAKATER_APP_CONFIG_CONFIGMAP set)"
else
    bad "no rollout within 20 s of the ConfigMap change"
    diff <(echo "$before") <(kubectl get -n "$ns" deployment/app -o jsonpath='{.spec.template}') | head -5
    tail -20 "$log" | sed 's/^/       /'
fi
# The write came from the ServiceAccount (the API server's audit log).
if grep -F '"username":"system:serviceaccount:reloadd:reloadd"' "$RELOADD_CLUSTER_DIR/logs/audit.log" |
        jq -e -s --arg ns "$ns" 'any(.[]; .verb=="patch" and .objectRef.resource=="deployments" and .objectRef.namespace==$ns and .responseStatus.code==200)' >/dev/null; then
    ok "audit log: the PATCH of deployment/app was made as system:serviceaccount:reloadd:reloadd"
else
    bad "audit log: no PATCH of deployment/app by the ServiceAccount"
fi
counted() { curl -fsS "$url/metrics" >"$work/metrics" && grep -Eq '^reloader_reload_executed_total\{success="true"\} [1-9]' "$work/metrics"; }
if wait_for 5 counted; then
    ok "metrics: reloader_reload_executed_total{success=\"true\"} >= 1"
else
    bad "metrics: no successful reload counted"
fi

# SIGTERM: the leader releases the Lease and exits.
if [ -n "$pid" ]; then
    kill -TERM "$pid"
    if wait_for 15 bash -c "! kill -0 $pid 2>/dev/null"; then ok "reloadd exited on SIGTERM"
    else bad "reloadd still running 15 s after SIGTERM"; fi
    if wait_for 5 test -z "$(holder)"; then ok "Lease released on SIGTERM"
    else bad "Lease still held by '$(holder)' after SIGTERM"; fi
fi
wait "$runpid" 2>/dev/null
runpid=""
finish
