#!/usr/bin/env bash
# tools/engine-check/fanout.sh - a change costs O(dependents) and no API read
#
# Acceptance of issue 4: "a change to a source referenced by 100 of those 5k
# Deployments enqueues exactly those 100 keys, with zero API reads (shown by
# the request metrics)". On the data set of memory.sh (ConfigMap cm-00000
# is referenced by exactly 100 of the 5k Deployments), reloadd runs
# cluster-wide with --coalesce-window=5s, so the keys a change enqueues wait
# in the queue long enough to be counted before any write. Then:
#   1. snapshot: reloader_api_requests_total by verb, reloader_workqueue_adds_total,
#      and .metadata.generation of every Deployment of the data set;
#   2. change cm-00000 (kubectl patch);
#   3. 2.5 s later, inside the window: the adds grew by exactly 100, no
#      PATCH yet;
#   4. once the queue is empty and nothing moves: GET and LIST unchanged,
#      PATCH +100 (one per dependent, at most), and exactly the 100
#      Deployments that reference cm-00000 got a new generation.
# (The 100 PATCHes come back as MODIFIED events with a new generation, so
# each dependent is enqueued once more and reconciled to "nothing to do":
# the adds end at +200 with no further write.)
#
# Exits 0 if all holds, 1 if not, 2 if it could not run.
#   eval "$(tools/cluster up)"; RELOADD_BIN=build/reloadd tools/engine-check/fanout.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ec_need_cluster
NS=${NS:-eng-scale}
HOT=cm-00000
ec_ensure_dataset "$NS"

verb() { ec_metric reloader_api_requests_total "verb=\"$1\""; }
adds() { ec_metric reloader_workqueue_adds_total; }
depth() { ec_metric reloader_workqueue_depth; }
snapshot() { # FILE: "get list patch watch adds"
    echo "$(verb get) $(verb list) $(verb patch) $(verb watch) $(adds)" >"$1"
}
generations() { # FILE: "name generation" of every Deployment of the data set
    kubectl -n "$NS" get deployments -l engine-check=scale \
        -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.generation}{"\n"}{end}' |
        sort >"$1"
}
# The Deployments whose pod spec references the hot ConfigMap, from the API.
dependents() {
    kubectl -n "$NS" get deployments -l engine-check=scale -o json | python3 -c '
import json, sys
hot = sys.argv[1]
for d in json.load(sys.stdin)["items"]:
    pod = d["spec"]["template"]["spec"]
    refs = set()
    for c in pod.get("containers", []) + pod.get("initContainers", []):
        for e in c.get("envFrom", []):
            refs.add((e.get("configMapRef") or {}).get("name"))
        for e in c.get("env", []):
            refs.add(((e.get("valueFrom") or {}).get("configMapKeyRef") or {}).get("name"))
    mounted = {m["name"] for c in pod.get("containers", []) + pod.get("initContainers", [])
               for m in c.get("volumeMounts", [])}
    for v in pod.get("volumes", []):
        if v["name"] in mounted:
            refs.add((v.get("configMap") or {}).get("name"))
            for s in (v.get("projected") or {}).get("sources", []):
                refs.add((s.get("configMap") or {}).get("name"))
    if hot in refs:
        print(d["metadata"]["name"])' "$HOT" | sort
}

dependents >"$EC_TMP/expected"
ec_log "$(wc -l <"$EC_TMP/expected") Deployments of $NS reference configmap $HOT"

ec_start_reloadd "$EC_TMP/reloadd.log" --coalesce-window=5s --kube-api-qps=200 --kube-api-burst=400
ec_wait 600 "/readyz" ec_ready
ec_wait 900 "startup pass" ec_startup_done
# Quiet: no write for 6 s (longer than the window) and no key ready.
quiet() {
    local p0 p1
    p0=$(verb patch); sleep 6; p1=$(verb patch)
    [ "$p0" = "$p1" ] && awk -v d="$(depth)" 'BEGIN { exit !(d == 0) }'
}
ec_wait 900 "quiet after the startup pass" quiet
ec_log "startup pass done in $(ec_metric reloader_startup_sync_seconds) s; RSS $(ec_rss_kib "$EC_PID") KiB"

generations "$EC_TMP/gen0"
snapshot "$EC_TMP/m0"
kubectl -n "$NS" patch configmap "$HOT" --type merge \
    -p "{\"data\":{\"k0\":\"changed-$(openssl rand -hex 8)\"}}" >/dev/null
t0=$(date +%s.%N)
sleep 2.5
snapshot "$EC_TMP/m1"
ec_wait 300 "queue drained and writes over" quiet
snapshot "$EC_TMP/m2"
generations "$EC_TMP/gen1"
ec_log "settled $(awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.1f", t1 - t0 }') s after the change"

join "$EC_TMP/gen0" "$EC_TMP/gen1" | awk '$2 != $3 { print $1 }' >"$EC_TMP/moved"
read -r g0 l0 p0 w0 a0 <"$EC_TMP/m0"
read -r g1 l1 p1 _ a1 <"$EC_TMP/m1"
read -r g2 l2 p2 w2 a2 <"$EC_TMP/m2"
d() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+d", b - a }'; }
echo "inside the coalescing window (2.5 s): workqueue adds $(d "$a0" "$a1"), PATCH $(d "$p0" "$p1"), GET $(d "$g0" "$g1"), LIST $(d "$l0" "$l1")"
echo "after the writes:                     workqueue adds $(d "$a0" "$a2"), PATCH $(d "$p0" "$p2"), GET $(d "$g0" "$g2"), LIST $(d "$l0" "$l2"), WATCH $(d "$w0" "$w2")"
echo "Deployments whose generation moved: $(wc -l <"$EC_TMP/moved") (expected $(wc -l <"$EC_TMP/expected"))"

rc=0
fail() { echo "FAIL: $*"; rc=1; }
[ "$(d "$a0" "$a1")" = "+$(wc -l <"$EC_TMP/expected")" ] || fail "the change enqueued $(d "$a0" "$a1") keys"
[ "$(d "$p0" "$p1")" = "+0" ] || fail "writes began inside the window"
[ "$(d "$g0" "$g2")" = "+0" ] || fail "GET requests during the change"
[ "$(d "$l0" "$l2")" = "+0" ] || fail "LIST requests during the change"
[ "$(d "$p0" "$p2")" -le "$(wc -l <"$EC_TMP/expected")" ] || fail "more PATCHes than dependents"
cmp -s "$EC_TMP/moved" "$EC_TMP/expected" || {
    fail "the Deployments that rolled are not exactly the dependents"
    diff "$EC_TMP/expected" "$EC_TMP/moved" | head -20
}
[ $rc -eq 0 ] && echo "PASS: exactly the $(wc -l <"$EC_TMP/expected") dependents enqueued and rolled, with no API read"
exit $rc
