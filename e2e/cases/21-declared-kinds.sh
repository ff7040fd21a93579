# Workload kinds by configuration (issue 16): --workload-kinds-file declares
# a Knative-like Service (rollout: patch-template, an update of its pod
# template) and an OpenKruise-like CloneSet (rollout: set-field, a time at
# spec.restartAt), CRDs of e2e/fixtures/declared-kinds-crds.yaml that no
# controller reconciles: reloadd's writes are what is checked. Auto, named
# and search annotations roll exactly the workloads they should, once, and
# nothing is written afterwards; the annotations strategy too; a restart
# with nothing changed writes nothing; a declared kind reloadd may not list
# is skipped with a warning; /explain, reloadd explain, the metrics and the
# Events know the kinds; a malformed declaration is refused at start (exit
# 2) with its line.
e2e_needs audit-log cli
fx=$(cd "$(dirname "${BASH_SOURCE[0]}")/../fixtures" && pwd)
kinds=$fx/declared-kinds.yaml
kubectl apply -f "$fx/declared-kinds-crds.yaml" -f "$fx/declared-kinds-rbac.yaml" >/dev/null
for crd in services.serving.example.test clonesets.apps.example.test widgets.unlisted.example.test; do
    kubectl wait --for=condition=Established "crd/$crd" --timeout=30s >/dev/null
done
SVC=services.serving.example.test CS=clonesets.apps.example.test

# workload NS KIND NAME ANNOTATIONS(flow map) [CONFIGMAP the container takes by envFrom]
workload() {
    local api kind spec env=""
    case $2 in
    svc) api=serving.example.test/v1 kind=Service spec="" ;;
    cs) api=apps.example.test/v1alpha1 kind=CloneSet
        spec="  replicas: 1
  selector: {matchLabels: {app: $3}}" ;;
    esac
    [ -z "${5:-}" ] || env="        envFrom: [{configMapRef: {name: $5}}]"
    kubectl apply -n "$1" -f - >/dev/null <<YAML
apiVersion: $api
kind: $kind
metadata: {name: $3, annotations: $4}
spec:
$spec
  template:
    metadata: {labels: {app: $3}}
    spec:
$(e2e_container "$env")
YAML
}

# "resource/name=generation=template=restartAt" of each workload listed.
snapshot() { # ns resource/name...
    local ns=$1 w; shift
    for w in "$@"; do
        kubectl get -n "$ns" "$w" -o json |
            jq -r --arg w "$w" '"\($w)=\(.metadata.generation)=\(.spec.template | tojson)=\(.spec.restartAt // "")"'
    done
}
field() { # snapshot-line N
    cut -d= -f"$2" <<<"$1"
}
# expect_rolled NS BEFORE ROLLED... : each ROLLED workload's spec moves
# once (a Service's pod template, a CloneSet's restartAt and not its
# template), then no write for 3 s, and the others did not move at all.
expect_rolled() {
    local ns=$1 before=$2 w line now; shift 2
    local want=" $* "
    for w in "$@"; do
        line=$(grep "^$w=" <<<"$before")
        e2e_wait 10 "$w rolled" bash -c "[ \"\$(kubectl get -n $ns $w -o jsonpath='{.metadata.generation}')\" != $(field "$line" 2) ]"
    done
    e2e_settled "$ns" 3
    while read -r line; do
        w=${line%%=*}
        now=$(snapshot "$ns" "$w")
        if [[ $want == *" $w "* ]]; then
            [ "$(field "$now" 2)" = $(($(field "$line" 2) + 1)) ] ||
                e2e_fail "$w: generation $(field "$line" 2) -> $(field "$now" 2), want one rollout"
            case $w in
            $SVC/*) [ "$(field "$now" 3)" != "$(field "$line" 3)" ] ||
                        e2e_fail "$w was written but its pod template did not change" ;;
            $CS/*) [ "$(field "$now" 4)" != "$(field "$line" 4)" ] && [ -n "$(field "$now" 4)" ] ||
                       e2e_fail "$w: spec.restartAt did not move ($(field "$now" 4))"
                   [ "$(field "$now" 3)" = "$(field "$line" 3)" ] ||
                       e2e_fail "$w: set-field changed the pod template" ;;
            esac
        else
            [ "$(field "$now" 2)" = "$(field "$line" 2)" ] ||
                e2e_fail "$w rolled but should not have (generation $(field "$line" 2) -> $(field "$now" 2))"
        fi
    done <<<"$before"
}

ns=$(e2e_ns kinds-by-file)
e2e_cm "$ns" cfg v=1
e2e_cm "$ns" named v=1
e2e_cm "$ns" matched v=1
kubectl annotate -n "$ns" cm/matched reloader.stakater.com/match=true >/dev/null
for k in svc cs; do
    workload "$ns" $k auto '{reloader.stakater.com/auto: "true"}' cfg
    workload "$ns" $k named '{configmap.reloader.stakater.com/reload: named}'
    workload "$ns" $k search '{reloader.stakater.com/search: "true"}' matched
    workload "$ns" $k plain '{}' cfg
done
all=($SVC/auto $SVC/named $SVC/search $SVC/plain $CS/auto $CS/named $CS/search $CS/plain)
flags=(--namespaces="$ns" --workload-kinds-file="$kinds")

e2e_start_reloadd "${flags[@]}"
log=$E2E_DIR/reloadd-0.log
e2e_wait_recorded "$ns" $SVC/auto $SVC/named $SVC/search $CS/auto $CS/named $CS/search
grep -q 'msg="workload kinds declared".*kinds="Service.serving.example.test, CloneSet.apps.example.test, Widget.unlisted.example.test"' "$log" ||
    e2e_fail "no line of the declared kinds in the log"
for k in "Service (serving.example.test/v1 services" "CloneSet (apps.example.test/v1alpha1 clonesets"; do
    grep -qF "$k" <<<"$(grep -F 'declared workload kind is served and allowed; watched' "$log")" ||
        e2e_fail "no 'served and allowed' line for $k"
done
grep -F 'declared workload kind may not be listed or watched' "$log" | grep -F 'Widget (unlisted.example.test/v1 widgets' |
    grep -qF "list in $ns" || e2e_fail "no warning that Widgets may not be listed"

e2e_log "auto: the Service's template and the CloneSet's restartAt, nothing else"
before=$(snapshot "$ns" "${all[@]}")
e2e_cm "$ns" cfg v=2
expect_rolled "$ns" "$before" $SVC/auto $CS/auto
want=$(printf 'v=2' | sha1sum | cut -c1-40)
[ "$(kubectl get -n "$ns" $SVC/auto -o json | jq -r '.spec.template.spec.containers[0].env[] | select(.name == "STAKATER_CFG_CONFIGMAP") | .value')" = "$want" ] ||
    e2e_fail "the Service's template has no STAKATER_CFG_CONFIGMAP=$want"
kubectl get -n "$ns" $CS/auto -o json | jq -e --arg h "$want" \
    '(.metadata.annotations["reloadd.io/applied"] | fromjson)["configmap/cfg"] == $h' >/dev/null ||
    e2e_fail "the CloneSet's record does not hold cfg's new hash"

e2e_log "named"
before=$(snapshot "$ns" "${all[@]}")
e2e_cm "$ns" named v=2
expect_rolled "$ns" "$before" $SVC/named $CS/named

e2e_log "search and match"
before=$(snapshot "$ns" "${all[@]}")
e2e_cm "$ns" matched v=2
expect_rolled "$ns" "$before" $SVC/search $CS/search

e2e_log "Events, metrics, /explain and reloadd explain"
ev=$(kubectl get events -n "$ns" --field-selector reason=Reloaded -o json)
for k in "Service serving.example.test/v1" "CloneSet apps.example.test/v1alpha1"; do
    n=$(jq --arg k "${k% *}" --arg v "${k#* }" '[.items[] | select(.involvedObject.kind == $k and .involvedObject.apiVersion == $v)] | length' <<<"$ev")
    [ "$n" = 3 ] || e2e_fail "$n Reloaded Events on ${k% *}s, want 3: $(jq -c '[.items[].involvedObject]' <<<"$ev")"
done
metrics=$(curl -fsS "http://127.0.0.1:$E2E_RELOADD_PORT/metrics")
grep -qx 'reloader_cached_objects{kind="services"} 4' <<<"$metrics" || e2e_fail "cached services: $(grep cached_objects <<<"$metrics")"
grep -qx 'reloader_cached_objects{kind="clonesets"} 4' <<<"$metrics" || e2e_fail "cached clonesets: $(grep cached_objects <<<"$metrics")"
grep -q '^reloader_action_total{workload_kind="CloneSet",result="success"} 3' <<<"$metrics" ||
    e2e_fail "CloneSet actions: $(grep 'reloader_action_total' <<<"$metrics")"
for q in "kind=$SVC&name=auto" "kind=cloneset&name=search"; do
    curl -fsS "http://127.0.0.1:$E2E_EXPLAIN_PORT/explain?$q&namespace=$ns" >"$E2E_DIR/explain.json" ||
        e2e_fail "/explain?$q failed"
    jq -e '.decision == "none" and .sources[0].verdict == "up-to-date"' "$E2E_DIR/explain.json" >/dev/null ||
        e2e_fail "/explain?$q: $(cat "$E2E_DIR/explain.json")"
done
"$RELOADD_BIN" explain "service.serving.example.test/named" -n "$ns" --kubeconfig="$RELOADD_CONTROLLER_KUBECONFIG" \
    --workload-kinds-file="$kinds" >"$E2E_DIR/cli.json" 2>"$E2E_DIR/cli.err" || e2e_fail "reloadd explain: $(cat "$E2E_DIR/cli.err")"
jq -e '.kind == "Service" and .decision == "none" and .sources[0].name == "named"' "$E2E_DIR/cli.json" >/dev/null ||
    e2e_fail "reloadd explain: $(cat "$E2E_DIR/cli.json")"

e2e_log "a restart with nothing changed writes nothing"
w0=$(e2e_writes "$ns")
e2e_stop_reloadd "$E2E_RELOADD_PID"
e2e_start_reloadd "${flags[@]}"
e2e_wait 20 "startup pass" grep -q "startup sync done" "$E2E_DIR/reloadd-1.log"
sleep 3
[ "$(e2e_writes "$ns")" = "$w0" ] || e2e_fail "$(($(e2e_writes "$ns") - w0)) writes after a restart with nothing changed"
e2e_stop_reloadd "$E2E_RELOADD_PID"

e2e_log "the annotations strategy"
ns2=$(e2e_ns kinds-by-file-ann)
e2e_cm "$ns2" cfg v=1
workload "$ns2" svc auto '{reloader.stakater.com/auto: "true"}' cfg
workload "$ns2" cs auto '{reloader.stakater.com/auto: "true"}' cfg
e2e_start_reloadd --namespaces="$ns2" --workload-kinds-file="$kinds" --reload-strategy=annotations
e2e_wait_recorded "$ns2" $SVC/auto $CS/auto
before=$(snapshot "$ns2" $SVC/auto $CS/auto)
e2e_cm "$ns2" cfg v=2
expect_rolled "$ns2" "$before" $SVC/auto $CS/auto
kubectl get -n "$ns2" $SVC/auto -o json | jq -e --arg h "$want" '
    (.spec.template.metadata.annotations["reloader.stakater.com/last-reloaded-from"] | fromjson) as $s
    | $s.name == "cfg" and $s.hash == $h and $s.type == "CONFIGMAP"' >/dev/null ||
    e2e_fail "the Service's template lacks last-reloaded-from of cfg: $(kubectl get -n "$ns2" $SVC/auto -o jsonpath='{.spec.template.metadata}')"
kubectl get -n "$ns2" $SVC/auto -o json | jq -e '[.spec.template.spec.containers[0].env[]?] | length == 0' >/dev/null ||
    e2e_fail "the annotations strategy wrote an env var"

e2e_log "a malformed declaration is refused at start, with its line"
bad=$E2E_DIR/bad-kinds.yaml
printf 'kinds:\n  - group: serving.example.test\n    version: v1\n    kind: Service\n    plural: services\n    rollout: restart\n' >"$bad"
rc=0
"$RELOADD_BIN" --kubeconfig="$RELOADD_CONTROLLER_KUBECONFIG" --metrics-addr=127.0.0.1:0 --explain-addr=off \
    --namespaces="$ns2" --workload-kinds-file="$bad" >"$E2E_DIR/bad.out" 2>&1 || rc=$?
[ $rc -eq 2 ] || e2e_fail "a malformed kinds file: exit $rc, want 2"
grep -qF "reloadd: --workload-kinds-file '$bad', line 6: unknown rollout 'restart' (want patch-template or set-field)" "$E2E_DIR/bad.out" ||
    e2e_fail "the refusal does not name the line: $(cat "$E2E_DIR/bad.out")"
