#!/usr/bin/env bash
# e2e/kind/run.sh [CASE...] - the e2e suite (e2e/cases) against a kind
# cluster, with reloadd installed from the container image by the Helm chart.
# Needs Docker (a daemon), kind, kubectl, jq, openssl, python3, helm (else go,
# to build tools/helm) and network access (kind's node image, kwok's
# manifests and image). It cannot run on the project's own machines (no
# Docker daemon, no registry); there, `make test-e2e` runs the same suite on
# tools/cluster.
#
#   1. kind create cluster $KIND_CLUSTER (kept if it exists), its API server
#      keeping an audit log of what the ServiceAccounts of
#      $RELOADD_E2E_NAMESPACE do (kind-config.yaml), as tools/cluster does;
#   2. kwok in the cluster with one fake node; the real node is tainted and
#      labelled so that the suite's workloads (fake images) run on the fake
#      node, as on the local control plane, and reloadd on the real one;
#   3. scripts/image.sh builds $RELOADD_IMAGE with docker; kind load;
#   4. helm install of deploy/helm/reloadd (the chart's defaults: two
#      replicas, HA) in $RELOADD_E2E_NAMESPACE and wait for it; its
#      ServiceAccount token becomes the controller kubeconfig the suite
#      uses for its RBAC checks; then that release is scaled to zero;
#   5. e2e/run.sh with RELOADD_BIN=e2e/kind/reloadd-chart.sh and
#      E2E_PLATFORM=kind: every time a case starts reloadd, that is a Helm
#      release of the chart; a case that needs what kind lacks (e2e_needs in
#      e2e/lib.sh) is skipped with its reason;
#   6. every release made is uninstalled; the cluster is deleted unless it
#      existed before or KEEP_CLUSTER=1.
#
# Environment: KIND_CLUSTER (reloadd-e2e), KIND_NODE_IMAGE (kind's default;
# case 00-cluster runs only on the server version of tools/cluster),
# RELOADD_IMAGE (localhost/reloadd:e2e), SKIP_BUILD=1 (image already
# built), RELOADD_E2E_NAMESPACE (reloadd-e2e), KWOK_VERSION (v0.8.0),
# KEEP_CLUSTER=1, HELM (a helm binary), E2E_KIND_HOST_ADDR /
# E2E_KIND_HOST_BIND (the host's address as pods reach it, and the address
# relays bind on the host; default: the kind node's default gateway),
# E2E_ARTIFACTS (logs; default: a new directory under $TMPDIR).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cases=()
for c in "$@"; do
    cases+=("$(cd "$(dirname "$c")" && pwd)/$(basename "$c")")
done
cd "$root"

export KIND_CLUSTER=${KIND_CLUSTER:-reloadd-e2e}
export RELOADD_IMAGE=${RELOADD_IMAGE:-localhost/reloadd:e2e}
export RELOADD_E2E_NAMESPACE=${RELOADD_E2E_NAMESPACE:-reloadd-e2e}
ns=$RELOADD_E2E_NAMESPACE
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
log() { echo "kind-e2e: $*" >&2; }
die() { log "$*"; exit 1; }

for c in docker kind kubectl jq openssl python3; do
    command -v "$c" >/dev/null || die "$c is not installed"
done
docker info >/dev/null 2>&1 || die "no Docker daemon answers (this suite needs one; see e2e/kind/README.md)"
HELM=$("$here/helm.sh")
export HELM
log "helm: $HELM ($("$HELM" version --short 2>/dev/null || echo '?'))"

work=$(mktemp -d "${TMPDIR:-/tmp}/reloadd-kind.XXXXXX")
export KUBECONFIG=$work/admin.kubeconfig E2E_KIND_WORK=$work
: >"$work/pids"
cleanup() {
    local rc=$? pid r p
    # Helpers of stand-ins that were killed before they could stop them.
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$work/pids"
    if [ -s "$KUBECONFIG" ]; then
        "$HELM" list -n "$ns" -q 2>/dev/null | while read -r r; do
            case $r in reloadd|e2e-*) "$HELM" uninstall "$r" -n "$ns" >/dev/null 2>&1 || true ;; esac
        done
        # Pods a stand-in held for their exit status.
        kubectl get pods -n "$ns" -o json 2>/dev/null |
            jq -r '.items[] | select((.metadata.finalizers // []) | index("reloadd-e2e/exit-status")) | .metadata.name' |
            while read -r p; do
                kubectl patch pod -n "$ns" "$p" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
            done
    fi
    if [ "${KEEP_CLUSTER:-}" != 1 ] && [ "${created:-0}" = 1 ]; then
        kind delete cluster --name "$KIND_CLUSTER" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
    exit $rc
}
trap cleanup EXIT

# 1. cluster, with the audit log of reloadd's ServiceAccounts (the same
#    policy as tools/cluster's, for the release namespace).
audit_policy() {
    cat <<YAML
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Request
    userGroups: ["system:serviceaccounts:$ns"]
    verbs: [create, update, patch]
    resources: [{group: coordination.k8s.io, resources: [leases]}]
  - level: Metadata
    userGroups: ["system:serviceaccounts:$ns"]
  - level: None
YAML
}
created=0
if ! grep -qx "$KIND_CLUSTER" <<<"$(kind get clusters 2>/dev/null)"; then
    # Outside the repository and the work directory: the node mounts it for
    # as long as the cluster lives (KEEP_CLUSTER=1 keeps it).
    policy_dir=${RELOADD_CACHE:-$HOME/.cache/reloadd}/kind-$KIND_CLUSTER
    mkdir -p "$policy_dir"
    audit_policy >"$policy_dir/policy.yaml"
    sed "s|@AUDIT_POLICY_DIR@|$policy_dir|" "$here/kind-config.yaml" >"$work/kind-config.yaml"
    log "creating kind cluster $KIND_CLUSTER"
    kind create cluster --name "$KIND_CLUSTER" --config "$work/kind-config.yaml" \
        ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} --wait 120s
    created=1
fi
kind get kubeconfig --name "$KIND_CLUSTER" >"$KUBECONFIG"
node=$(kind get nodes --name "$KIND_CLUSTER" | grep -- '-control-plane$' | head -1)
[ -n "$node" ] || die "no control-plane node in kind cluster $KIND_CLUSTER"
export E2E_PLATFORM=kind E2E_KIND_NODE=$node
export E2E_KIND_AUDIT_LOG=/var/log/kubernetes/reloadd-audit/audit.log
export E2E_LEASE_NAMESPACE=$ns

# 2. kwok and a fake node; the real node(s) only take what tolerates them,
#    and reloadd's pods select them (the fake node has more room).
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
    kubectl label --overwrite "$n" reloadd-e2e/real-node=true >/dev/null
done

# The host as the pods reach it, for the receivers cases run on the host's
# loopback (reloadd-chart.sh relays them there). Checked from the node: a
# firewall between the kind network and the host skips those cases instead
# of failing them.
if [ -z "${E2E_KIND_HOST_ADDR:-}" ]; then
    E2E_KIND_HOST_ADDR=$(docker exec "$node" ip -4 route show default 2>/dev/null | awk '{print $3; exit}' || true)
fi
if [ -z "$E2E_KIND_HOST_ADDR" ]; then
    E2E_KIND_HOST_ADDR=$(docker network inspect kind -f '{{range .IPAM.Config}}{{.Gateway}} {{end}}' 2>/dev/null |
        tr ' ' '\n' | grep -m1 -E '^[0-9]+\.' || true)
fi
probe_host() {
    local pf=$work/probe-port pid ok=0
    python3 "$here/../tools/relay.py" --bind "${E2E_KIND_HOST_BIND:-$E2E_KIND_HOST_ADDR}" --port-file "$pf" 0 127.0.0.1 9 >/dev/null 2>&1 &
    pid=$!
    echo "$pid" >>"$work/pids"
    for _ in $(seq 1 50); do [ -s "$pf" ] && break; sleep 0.1; done
    if [ -s "$pf" ] && docker exec "$node" timeout 5 bash -c "exec 3<>/dev/tcp/$E2E_KIND_HOST_ADDR/$(cat "$pf")" 2>/dev/null; then
        ok=1
    fi
    kill "$pid" 2>/dev/null || true
    [ $ok = 1 ]
}
if [ -n "$E2E_KIND_HOST_ADDR" ] && probe_host; then
    log "the pods reach the host at $E2E_KIND_HOST_ADDR"
else
    log "warning: the kind node cannot reach a relay on the host at '${E2E_KIND_HOST_ADDR}' (bind ${E2E_KIND_HOST_BIND:-the same}); cases with host receivers will be skipped"
    E2E_KIND_HOST_ADDR=""
fi
export E2E_KIND_HOST_ADDR
[ -z "${E2E_KIND_HOST_BIND:-}" ] || export E2E_KIND_HOST_BIND

# 3. image
if [ "${SKIP_BUILD:-}" != 1 ]; then
    RELOADD_IMAGE_BUILDER=docker "$root/scripts/image.sh" --tag "$RELOADD_IMAGE"
fi
kind load docker-image "$RELOADD_IMAGE" --name "$KIND_CLUSTER"

# 4. the chart as users install it (on the real node), and the controller's
#    identity. Objects are found by the release's label: their names are
#    the chart's business (<release>-reloader, as Reloader's chart).
log "helm install (chart defaults) in $ns"
jq -n --arg img "$RELOADD_IMAGE" '{
    image: {repository: ($img | sub(":[^:/]*$"; "")), tag: ($img | capture(":(?<t>[^:/]*)$").t)},
    reloader: {deployment: {
        nodeSelector: {"reloadd-e2e/real-node": "true"},
        tolerations: [{key: "reloadd-e2e/real-node", operator: "Exists", effect: "NoSchedule"}]}}
  }' >"$work/default-values.json"
"$HELM" upgrade --install reloadd "$root/deploy/helm/reloadd" -n "$ns" --create-namespace \
    -f "$work/default-values.json" --wait --timeout 180s
deploy=$(kubectl get deployments -n "$ns" -l app.kubernetes.io/instance=reloadd -o jsonpath='{.items[0].metadata.name}')
[ -n "$deploy" ] || die "the release reloadd has no Deployment"
kubectl -n "$ns" wait --for=condition=Available "deployment/$deploy" --timeout=60s >/dev/null
sa=$(kubectl get deployment -n "$ns" "$deploy" -o jsonpath='{.spec.template.spec.serviceAccountName}')
token=$(kubectl create token "${sa:-default}" -n "$ns" --duration=4h)
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
ca=$(kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
base64 -d <<<"$ca" >"$work/ca.crt"
cat >"$work/controller.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: kind, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: reloadd, user: {token: "$token"}}]
contexts: [{name: kind, context: {cluster: kind, user: reloadd}}]
current-context: kind
KC
chmod 600 "$work/controller.kubeconfig"
export RELOADD_CONTROLLER_KUBECONFIG=$work/controller.kubeconfig
export RELOADD_CONTROLLER_TOKEN_KUBECONFIG=$work/controller.kubeconfig
export RELOADD_CLUSTER_CA=$work/ca.crt RELOADD_APISERVER_URL=$server

# The audit log: the policy this run needs, and the API server writing it
# (the release just made requests as its ServiceAccount).
E2E_KIND_AUDIT=0
if docker exec "$node" grep -qF "system:serviceaccounts:$ns\"" /etc/kubernetes/reloadd-audit/policy.yaml 2>/dev/null &&
    docker exec "$node" test -s "$E2E_KIND_AUDIT_LOG"; then
    E2E_KIND_AUDIT=1
    log "audit log: $node:$E2E_KIND_AUDIT_LOG"
else
    log "warning: cluster $KIND_CLUSTER keeps no audit log for namespace $ns (not created by this script with it); cases that count reloadd's writes will be skipped"
fi
export E2E_KIND_AUDIT

# The suite starts its own instances; the default one would compete for
# the same workloads. Its ServiceAccount (and token) are kept.
kubectl -n "$ns" scale "deployment/$deploy" --replicas=0 >/dev/null

# 5. the suite (logs are kept after the run, unlike the work directory)
E2E_ARTIFACTS=${E2E_ARTIFACTS:-$(mktemp -d "${TMPDIR:-/tmp}/reloadd-kind-e2e.XXXXXX")}
export E2E_ARTIFACTS
log "artifacts in $E2E_ARTIFACTS"
"$root/e2e/run.sh" "$here/reloadd-chart.sh" ${cases[@]+"${cases[@]}"}
