#!/usr/bin/env bash
# e2e/kind/helm.sh - prints the path of the helm to use: $HELM if set, else
# `helm` from PATH when it is Helm 3.8 or later (or Helm 4), else the one
# tools/helm/build.sh builds from source (cached; needs Go).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ -n "${HELM:-}" ]; then
    echo "$HELM"
    exit 0
fi
if p=$(command -v helm); then
    v=$("$p" version --template '{{.Version}}' 2>/dev/null || true)
    v=${v#v}
    major=${v%%.*} rest=${v#*.}
    minor=${rest%%.*}
    if [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] && { [ "$major" -ge 4 ] || { [ "$major" -eq 3 ] && [ "$minor" -ge 8 ]; }; }; then
        echo "$p"
        exit 0
    fi
    echo "kind-e2e: $p is Helm '${v:-unknown}', older than 3.8: building tools/helm" >&2
fi
exec "$root/tools/helm/build.sh"
