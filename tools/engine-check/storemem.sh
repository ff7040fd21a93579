#!/usr/bin/env bash
# tools/engine-check/storemem.sh - live heap bytes of the store, per object
#
# Dumps the data set's ConfigMaps, Secrets and Deployments (kubectl get -o
# json), builds storemem.c against BUILD's librl_core.a (default build) and
# runs it: the store's own cost per object, as mallinfo2() sees it. See
# storemem.c.
#   eval "$(tools/cluster up)"; BUILD=build tools/engine-check/storemem.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BUILD=${BUILD:-$root/build}
NS=${NS:-eng-scale}
[ -f "$BUILD/librl_core.a" ] || ec_die "no $BUILD/librl_core.a (build first, or set BUILD)"
command -v kubectl >/dev/null || ec_die "kubectl is not on PATH"
libs=$(pkg-config --libs libcurl libcjson openssl libbsd yaml-0.1 libmicrohttpd libpcre2-8)
cc -std=c17 -O2 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Werror \
    -Wno-write-strings -Wno-discarded-qualifiers \
    -I"$root/include" -I"$BUILD/generated" "$root/tools/engine-check/storemem.c" \
    "$BUILD/librl_core.a" $libs -lpthread -lm -o "$EC_TMP/storemem"
kubectl -n "$NS" get configmaps,secrets,deployments -o json >"$EC_TMP/dump.json"
"$EC_TMP/storemem" "$EC_TMP/dump.json"
