#!/usr/bin/env bash
# tools/engine-check/storemem.sh - live heap bytes of the store, per object
#
# Dumps the data set's ConfigMaps, Secrets and Deployments (kubectl get -o
# json), builds storemem.c (CMake target storemem, in BUILD: default build/)
# and runs it: the store's own cost per object, as mallinfo2() sees it. See
# storemem.c.
#   eval "$(tools/cluster up)"; BUILD=build tools/engine-check/storemem.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BUILD=${BUILD:-$root/build}
NS=${NS:-eng-scale}
[ -f "$BUILD/CMakeCache.txt" ] || ec_die "no CMake build in $BUILD (make build first, or set BUILD)"
command -v kubectl >/dev/null || ec_die "kubectl is not on PATH"
cmake --build "$BUILD" --target storemem >/dev/null
kubectl -n "$NS" get configmaps,secrets,deployments -o json >"$EC_TMP/dump.json"
"$BUILD/tools/storemem" "$EC_TMP/dump.json"
