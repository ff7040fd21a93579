#!/usr/bin/env bash
# Builds the helm CLI (helm.sh/helm/v4, pinned by this module's go.sum) into
# a cache outside the repository, keyed by this module's files, and prints
# the path of the helm binary. A present, complete cache is reused.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
key=$(cat "$here/go.sum" "$here/go.mod" "$here/main.go" "$0" | sha256sum | cut -c1-16)
cache=${RELOADD_CACHE:-$HOME/.cache/reloadd}
bin=$cache/helm-$key

if [ -x "$bin/helm" ] && [ -f "$bin/.complete" ]; then
    echo "$bin/helm"
    exit 0
fi
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
    export PATH=/usr/local/go/bin:$PATH
fi
command -v go >/dev/null || { echo "helm: go is not installed (needed to build helm)" >&2; exit 1; }

mkdir -p "$bin"
export GOTOOLCHAIN=local CGO_ENABLED=0
start=$SECONDS
ver=$(cd "$here" && go list -m -f '{{.Version}}' helm.sh/helm/v4)
ld="-s -w -X helm.sh/helm/v4/internal/version.version=$ver"
echo "helm: building helm $ver into $bin (cold: a few minutes)" >&2
(cd "$here" && go build -mod=readonly -trimpath -buildvcs=false -ldflags "$ld" -o "$bin/helm.tmp" .)
mv "$bin/helm.tmp" "$bin/helm"
echo "helm: built in $((SECONDS - start)) s; helm is $(du -m "$bin/helm" | cut -f1) MiB" >&2
touch "$bin/.complete"
echo "$bin/helm"
