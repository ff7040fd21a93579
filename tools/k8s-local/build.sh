#!/usr/bin/env bash
# Builds the test control plane (k8s-local multi-call binary + kwok) into a
# cache outside the repository, keyed by this module's go.sum, and prints the
# directory that holds the binaries. A present, complete cache is reused.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
K8S_VERSION=v1.36.3
KWOK_VERSION=v0.8.0
key=$(cat "$here/go.sum" "$here/go.mod" "$here/main.go" "$0" | sha256sum | cut -c1-16)
cache=${RELOADD_CACHE:-$HOME/.cache/reloadd}
bin=$cache/k8s-local-$key

if [ -x "$bin/k8s-local" ] && [ -x "$bin/kwok" ] && [ -f "$bin/.complete" ]; then
    echo "$bin"
    exit 0
fi
command -v go >/dev/null || { echo "k8s-local: go is not installed (needed to build the test control plane)" >&2; exit 1; }

mkdir -p "$bin"
export GOTOOLCHAIN=local CGO_ENABLED=0
start=$SECONDS
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld="$ld -X $p.gitTreeState=clean -X $p.buildDate=$now"
done
echo "k8s-local: building Kubernetes $K8S_VERSION components into $bin (cold: 10-30 min)" >&2
(cd "$here" && go build -mod=readonly -trimpath -buildvcs=false -ldflags "$ld" -o "$bin/k8s-local.tmp" .)
mv "$bin/k8s-local.tmp" "$bin/k8s-local"
echo "k8s-local: building kwok $KWOK_VERSION" >&2
GOBIN="$bin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
# kwok's stock stages come from its module source, which go install extracted.
stages=$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
         pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo '---'; cat "$stages/$f"
done > "$bin/kwok-stages.yaml"
for c in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    ln -sf k8s-local "$bin/$c"
done
echo "k8s-local: built in $((SECONDS - start)) s; k8s-local is $(du -m "$bin/k8s-local" | cut -f1) MiB" >&2
touch "$bin/.complete"
echo "$bin"
