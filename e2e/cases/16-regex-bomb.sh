# Hostile annotations (issue 13): anyone who may edit a Deployment in their
# own namespace writes its reload list. Three 250 KiB lists of
# `(?:ab){1000}` once cost ~200 MiB each and crash-looped the pod. Now:
# RSS grows by at most 16 MiB, each bomb gets one Warning "ReloadFail" Event
# naming it, nothing rolls for them, and the others still roll at once.
e2e_needs proc audit-log
ns=$(e2e_ns bomb)
e2e_cm "$ns" cfg a=1
e2e_deploy "$ns" good '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        envFrom: [{configMapRef: {name: cfg}}]')"
e2e_start_reloadd --namespaces="$ns"
e2e_wait_recorded "$ns" Deployment/good
rss() { awk '/^VmRSS/ {print $2}' "/proc/$E2E_RELOADD_PID/status"; }
rss0=$(rss)

# 19,000 items of 13 bytes: 247 KiB, under the API server's 256 KiB for all annotations.
python3 - "$E2E_DIR" <<'PY'
import json, sys
bomb = ",".join(["(?:ab){1000}"] * 19000) + ",cfg"
for i in (1, 2, 3):
    d = {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": f"bomb-{i}",
                      "annotations": {"configmap.reloader.stakater.com/reload": bomb}},
         "spec": {"replicas": 0, "selector": {"matchLabels": {"app": f"bomb-{i}"}},
                  "template": {"metadata": {"labels": {"app": f"bomb-{i}"}},
                               "spec": {"containers": [{"name": "app", "image": "busybox"}]}}}}
    open(f"{sys.argv[1]}/bomb-{i}.json", "w").write(json.dumps(d))
PY
declare -A tb
for i in 1 2 3; do
    kubectl create -n "$ns" -f "$E2E_DIR/bomb-$i.json" >/dev/null
    tb[$i]=$(e2e_template "$ns" "Deployment/bomb-$i")
done
log=$E2E_DIR/reloadd-0.log
for i in 1 2 3; do
    e2e_wait 30 "bomb-$i is refused" bash -c "grep 'workload=deployment/$ns/bomb-$i\b' '$log' | grep -q 'reload list too large'"
done
t0=$(e2e_template "$ns" Deployment/good)
start=$(date +%s%3N)
e2e_cm "$ns" cfg a=2
e2e_wait 20 "good rolls" bash -c "[ \"\$(kubectl get -n $ns deployment/good -o jsonpath='{.spec.template}')\" != '$t0' ]"
took=$(($(date +%s%3N) - start))
e2e_settled "$ns" 5
rss1=$(rss)
e2e_log "RSS ${rss0} KiB before the bombs, ${rss1} KiB after (+$(((rss1 - rss0) / 1024)) MiB); good rolled ${took} ms after the change"
[ $((rss1 - rss0)) -le $((16 * 1024)) ] || e2e_fail "RSS grew by $(((rss1 - rss0) / 1024)) MiB with three bombs (at most 16)"
[ "$took" -le 10000 ] || e2e_fail "good rolled ${took} ms after the change: the bombs slowed the others"
# A refused list is ignored whole (its "cfg" item too): the bombs do not roll.
for i in 1 2 3; do
    [ "$(e2e_template "$ns" "Deployment/bomb-$i")" = "${tb[$i]}" ] || e2e_fail "bomb-$i was rolled"
done
for i in 1 2 3; do
    e2e_wait 20 "bomb-$i's ReloadFail Event" bash -c "kubectl get events -n $ns --field-selector involvedObject.name=bomb-$i,reason=ReloadFail -o name | grep -q ."
    n=$(kubectl get events -n "$ns" --field-selector "involvedObject.name=bomb-$i,reason=ReloadFail" -o jsonpath='{range .items[*]}{.count}{"\n"}{end}' | awk '{s += $1} END {print s + 0}')
    [ "$n" -eq 1 ] || e2e_fail "bomb-$i got $n ReloadFail Events, want 1"
done
msg=$(kubectl get events -n "$ns" --field-selector involvedObject.name=bomb-1,reason=ReloadFail -o jsonpath='{.items[0].message}')
e2e_log "Event: ${msg:0:200}"
grep -q "reload list too large" <<<"$msg" || e2e_fail "the Event does not say why: $msg"
