#!/usr/bin/env bash
# e2e/kind/run.sh [CASE...] - the e2e suite (e2e/cases) against a kind
# cluster, with reloadd installed from the container image by the Helm chart.
# Needs Docker (a daemon), kind, kubectl, jq, openssl, go (for tools/helm)
# and access to a registry (kind's node image, kwok's manifests and image).
# It cannot run on the project's own machines (no Docker daemon, no
# registry); there, `make test-e2e` runs the same suite on tools/cluster.
#
#   1. kind create cluster $KIND_CLUSTER (kept if it exists);
#   2. kwok in the cluster with one fake node; the real node is tainted so
#      the suite's workloads (fake images) run on the fake node, as on the
#      local control plane;
#   3. scripts/image.sh builds $RELOADD_IMAGE with docker; kind load;
#   4. helm install of deploy/helm/reloadd (the chart's defaults: two
#      replicas, HA) in $RELOADD_E2E_NAMESPACE and wait for it; its
#      ServiceAccount token becomes the controller kubeconfig the suite
#      uses for its RBAC checks; then that release is removed;
#   5. e2e/run.sh with RELOADD_BIN=e2e/kind/reloadd-chart.sh: every time a
#      case starts reloadd, that is a Helm release of the chart;
#   6. every release made is uninstalled; the cluster is deleted unless
#      KEEP_CLUSTER=1.
#
# Environment: KIND_CLUSTER (reloadd-e2e), KIND_NODE_IMAGE (kind's default;
# case 00-cluster pins the server version of tools/cluster, pass a matching
# node image or skip that case), RELOADD_IMAGE (localhost/reloadd:e2e),
# SKIP_BUILD=1 (image already built), KWOK_VERSION (v0.8.0), KEEP_CLUSTER=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

export KIND_CLUSTER=${KIND_CLUSTER:-reloadd-e2e}
export RELOADD_IMAGE=${RELOADD_IMAGE:-localhost/reloadd:e2e}
export RELOADD_E2E_NAMESPACE=${RELOADD_E2E_NAMESPACE:-reloadd-e2e}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
log() { echo "kind-e2e: $*" >&2; }
die() { log "$*"; exit 1; }

for c in docker kind kubectl jq openssl; do
    command -v "$c" >/dev/null || die "$c is not installed"
done
docker info >/dev/null 2>&1 || die "no Docker daemon answers (this suite needs one; see e2e/kind/README.md)"
HELM=$("$root/tools/helm/build.sh")
export HELM

work=$(mktemp -d "${TMPDIR:-/tmp}/reloadd-kind.XXXXXX")
export KUBECONFIG=$work/admin.kubeconfig
cleanup() {
    local rc=$?
    "$HELM" list -n "$RELOADD_E2E_NAMESPACE" -l reloadd-e2e=true -q 2>/dev/null |
        while read -r r; do "$HELM" uninstall "$r" -n "$RELOADD_E2E_NAMESPACE" >/dev/null 2>&1 || true; done
    if [ "${KEEP_CLUSTER:-}" != 1 ] && [ "${created:-0}" = 1 ]; then
        kind delete cluster --name "$KIND_CLUSTER" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
    exit $rc
}
trap cleanup EXIT

# 1. cluster
created=0
if ! kind get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
    log "creating kind cluster $KIND_CLUSTER"
    kind create cluster --name "$KIND_CLUSTER" --config "$here/kind-config.yaml" \
        ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} --wait 120s
    created=1
fi
kind get kubeconfig --name "$KIND_CLUSTER" >"$KUBECONFIG"

# 2. kwok and a fake node; the real node(s) only take what tolerates it.
log "installing kwok $KWOK_VERSION"
kubectl apply -f "https://github.com/kubernetes-sigs/kwok/releases/download/$KWOK_VERSION/kwok.yaml" >/dev/null
kubectl apply -f "https://github.com/kubernetes-sigs/kwok/releases/download/$KWOK_VERSION/stage-fast.yaml" >/dev/null
kubectl -n kube-system rollout status deployment/kwok-controller --timeout=120s >/dev/null
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations: {node.alpha.kubernetes.io/ttl: "0", kwok.x-k8s.io/node: fake}
  labels: {kubernetes.io/hostname: kwok-node-0, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
YAML
kubectl wait --for=condition=Ready node/kwok-node-0 --timeout=60s >/dev/null
for n in $(kubectl get nodes -l '!type' -o name); do
    kubectl taint --overwrite "$n" reloadd-e2e/real-node=true:NoSchedule >/dev/null
done

# 3. image
if [ "${SKIP_BUILD:-}" != 1 ]; then
    RELOADD_IMAGE_BUILDER=docker "$root/scripts/image.sh" --tag "$RELOADD_IMAGE"
fi
kind load docker-image "$RELOADD_IMAGE" --name "$KIND_CLUSTER"

# 4. the chart as users install it, and the controller's identity.
repo=${RELOADD_IMAGE%:*} tag=${RELOADD_IMAGE##*:}
log "helm install (chart defaults) in $RELOADD_E2E_NAMESPACE"
"$HELM" upgrade --install reloadd "$root/deploy/helm/reloadd" -n "$RELOADD_E2E_NAMESPACE" --create-namespace \
    --labels reloadd-e2e=true --set image.repository="$repo" --set image.tag="$tag" \
    --set 'reloader.deployment.tolerations[0].key=reloadd-e2e/real-node' \
    --set 'reloader.deployment.tolerations[0].operator=Exists' --wait --timeout 180s
kubectl -n "$RELOADD_E2E_NAMESPACE" wait --for=condition=Available deployment/reloadd --timeout=60s >/dev/null
token=$(kubectl create token reloadd -n "$RELOADD_E2E_NAMESPACE" --duration=2h)
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
ca=$(kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
cat >"$work/controller.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: kind, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: reloadd, user: {token: "$token"}}]
contexts: [{name: kind, context: {cluster: kind, user: reloadd}}]
current-context: kind
KC
export RELOADD_CONTROLLER_KUBECONFIG=$work/controller.kubeconfig
# The suite starts its own instances; the default one would compete for
# the same workloads. Its ServiceAccount (and token) are kept.
kubectl -n "$RELOADD_E2E_NAMESPACE" scale deployment/reloadd --replicas=0 >/dev/null

# 5. the suite
E2E_ARTIFACTS=${E2E_ARTIFACTS:-$work/artifacts} "$root/e2e/run.sh" "$here/reloadd-chart.sh" "$@"
