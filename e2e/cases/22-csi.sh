# Secrets Store CSI driver (issue 16, --enable-csi-integration): the
# driver's real CRDs (its Go module, downloaded at test time into the cache
# outside the repository, as tools/cluster caches the control plane), and
# SecretProviderClassPodStatus objects written as the driver writes them
# (one per pod and class, named <pod>-<namespace>-<class>, owned by the pod,
# the node label, status.objects[{id, version}]); no driver runs, so the
# rotations are these writes.
#
# reloadd starts before the CRDs exist and starts watching once they appear,
# without a restart. A rotation that three pods of one Deployment report is
# one rollout of it (one write), with the env var Reloader would write
# (docs/reloader.md §3.1, §4.1); the auto, typed auto and named annotations
# roll; the exclude annotation, a class annotated ignore and a workload
# without annotations do not; the new pods' status objects (adds) and
# updates with the same objects write nothing; after every reload nothing
# is written for a few seconds. A restart under the annotations strategy
# (the API there at start) writes nothing, then a rotation writes
# last-reloaded-from of type SECRETPROVIDERCLASS. /explain and reloadd explain
# show the class as a source.
e2e_needs audit-log cli
fx=$(cd "$(dirname "${BASH_SOURCE[0]}")/../fixtures" && pwd)
command -v go >/dev/null || e2e_fail "go is needed to download the CSI driver's CRDs (its Go module)"
cache=${RELOADD_CACHE:-$HOME/.cache/reloadd}
mod=$(GOMODCACHE="$cache/gomod" GOFLAGS=-modcacherw go mod download -json \
      sigs.k8s.io/secrets-store-csi-driver@v1.5.4) || e2e_fail "go mod download of the CSI driver failed"
crds=$(jq -r .Dir <<<"$mod")/config/crd/bases
[ -f "$crds/secrets-store.csi.x-k8s.io_secretproviderclasspodstatuses.yaml" ] ||
    e2e_fail "no CRDs in $crds"
CRDS=(secretproviderclasspodstatuses.secrets-store.csi.x-k8s.io secretproviderclasses.secrets-store.csi.x-k8s.io)
# The API must be absent when reloadd starts (an earlier run left it installed).
kubectl delete crd "${CRDS[@]}" --ignore-not-found --wait=true >/dev/null
kubectl apply -f "$fx/csi-rbac.yaml" >/dev/null

ns=$(e2e_ns csi)
# deployment NAME REPLICAS ANNOTATIONS(flow map) [CLASS its CSI volume names]
deployment() {
    local mounts="" volumes=""
    if [ -n "${4:-}" ]; then
        mounts="        volumeMounts: [{name: secrets, mountPath: /mnt/secrets, readOnly: true}]"
        volumes="      volumes: [{name: secrets, csi: {driver: secrets-store.csi.k8s.io, readOnly: true, volumeAttributes: {secretProviderClass: $4}}}]"
    fi
    kubectl apply -n "$ns" -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, annotations: $3}
spec:
  replicas: $2
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
$(e2e_container "$mounts")
$volumes
YAML
}
# class NAME ANNOTATIONS(flow map): a SecretProviderClass.
class() {
    kubectl apply -n "$ns" -f - >/dev/null <<YAML
apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata: {name: $1, annotations: $2}
spec:
  provider: vault
  parameters: {roleName: app, objects: "- objectName: db-password"}
YAML
}
# "name uid" of each running (not deleted) pod of Deployment APP, once there are N.
pods() { # app n
    local out
    e2e_wait 60 "$2 pods of $1" bash -c "[ \"\$(kubectl get pods -n $ns -l app=$1 -o json | jq '[.items[] | select(.metadata.deletionTimestamp == null)] | length')\" = $2 ]"
    out=$(kubectl get pods -n "$ns" -l "app=$1" -o json)
    jq -r '.items[] | select(.metadata.deletionTimestamp == null) | "\(.metadata.name) \(.metadata.uid)"' <<<"$out"
}
# mount CLASS VERSION [MOUNTED] APP N...: the driver's status object of each
# pod of the apps, with the class's two objects at VERSION (db-password) and
# k1 (api-key); created at a pod's mount, updated at each rotation.
mount() {
    local spc=$1 ver=$2 mounted=$3 app n pod uid; shift 3
    while [ $# -gt 0 ]; do
        app=$1 n=$2; shift 2
        while read -r pod uid; do
            cat <<YAML
apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClassPodStatus
metadata:
  name: $pod-$ns-$spc
  labels: {internal.secrets-store.csi.k8s.io/node-name: kwok-node-0}
  ownerReferences: [{apiVersion: v1, kind: Pod, name: $pod, uid: $uid}]
status:
  podName: $pod
  secretProviderClassName: $spc
  mounted: $mounted
  targetPath: /var/lib/kubelet/pods/$uid/volumes/kubernetes.io~csi/secrets/mount
  objects:
  - {id: secret/db-password, version: "$ver"}
  - {id: secret/api-key, version: "k1"}
---
YAML
        done < <(pods "$app" "$n")
    done | kubectl apply -n "$ns" -f - >/dev/null
}
# docs/reloader.md §4.1: the sorted "id=version" pairs and the class's name.
hash_of() { # class version
    printf 'SecretProviderClassName=%s;secret/api-key=k1;secret/db-password=%s' "$1" "$2" | sha1sum | cut -c1-40
}
env_of() { # deployment
    kubectl get -n "$ns" "deployment/$1" -o json |
        jq -r --arg e "STAKATER_$(tr 'a-z-' 'A-Z_' <<<"$2")_SECRETPROVIDERCLASS" \
            '.spec.template.spec.containers[0].env[]? | select(.name == $e) | .value'
}
has_spc_record() { # deployment class
    e2e_record_of "$ns" "$1" | jq -e --arg k "secretproviderclass/$2" '.[$k] // empty' >/dev/null
}

# rotate VERSION: every pod mounting spc-a reports VERSION (auto's three
# pods among them): auto, generic and named roll once each, nothing else
# does, and auto is written exactly once.
rotate() {
    local w_auto
    e2e_generations "$ns" >"$E2E_DIR/before-$1"
    w_auto=$(e2e_writes "$ns" auto)
    mount spc-a "$1" true auto 3 generic 1 excluded 1 plain 1
    E2E_ROLL_TIMEOUT=15 e2e_expect_rolled "$ns" "$E2E_DIR/before-$1" Deployment/auto Deployment/generic Deployment/named
    [ "$(e2e_writes "$ns" auto)" = $((w_auto + 1)) ] ||
        e2e_fail "auto: $(($(e2e_writes "$ns" auto) - w_auto)) writes for one rotation, want 1"
}

e2e_log "reloadd starts before the CSI driver's API exists"
flags=(--namespaces="$ns" --enable-csi-integration)
e2e_start_reloadd "${flags[@]}"
log=$E2E_DIR/reloadd-0.log
grep -qF 'does not serve secrets-store.csi.x-k8s.io/v1' "$log" || e2e_fail "no line that the CSI API is absent"

e2e_log "the CRDs appear: watched without a restart"
kubectl apply -f "$crds" >/dev/null
for crd in "${CRDS[@]}"; do kubectl wait --for=condition=Established "crd/$crd" --timeout=30s >/dev/null; done
e2e_wait 30 "the CSI watch started" grep -qF "the CSI driver's API appeared" "$log"
kill -0 "$E2E_RELOADD_PID" || e2e_fail "reloadd exited"

class spc-a '{}'
class spc-ign '{reloader.stakater.com/ignore: "true"}'
deployment auto 3 '{secretproviderclass.reloader.stakater.com/auto: "true"}' spc-a
deployment generic 1 '{reloader.stakater.com/auto: "true"}' spc-a
deployment named 1 '{secretproviderclass.reloader.stakater.com/reload: "spc-.*"}'
deployment excluded 1 '{reloader.stakater.com/auto: "true", secretproviderclasses.exclude.reloader.stakater.com/reload: spc-a}' spc-a
deployment plain 1 '{}' spc-a
deployment ignored 1 '{reloader.stakater.com/auto: "true"}' spc-ign
mount spc-a v1 true auto 3 generic 1 excluded 1 plain 1
mount spc-ign v1 true ignored 1
for d in auto generic named; do
    e2e_wait 20 "a baseline of spc-a on $d" has_spc_record "$d" spc-a
done
e2e_settled "$ns" 3

e2e_log "a rotation that three pods of one Deployment report: one rollout each"
rotate v2
h2=$(hash_of spc-a v2)
for d in auto generic named; do
    [ "$(env_of "$d" spc-a)" = "$h2" ] || e2e_fail "$d: STAKATER_SPC_A_SECRETPROVIDERCLASS is '$(env_of "$d" spc-a)', want $h2"
done

e2e_log "the new pods mount the same version; an update with the same objects: no write"
for d in auto generic named; do kubectl rollout status -n "$ns" "deployment/$d" --timeout=60s >/dev/null; done
w0=$(e2e_writes "$ns")
mount spc-a v2 true auto 3 generic 1
mount spc-a v2 false auto 3 generic 1 excluded 1 plain 1
e2e_settled "$ns" 3
[ "$(e2e_writes "$ns")" = "$w0" ] || e2e_fail "$(($(e2e_writes "$ns") - w0)) writes without a new version"

e2e_log "a class annotated ignore rolls nothing"
mount spc-ign v2 true ignored 1
e2e_settled "$ns" 3
[ "$(e2e_writes "$ns")" = "$w0" ] || e2e_fail "the ignored class rolled something"

e2e_log "metrics, /explain and reloadd explain"
metrics=$(curl -fsS "http://127.0.0.1:$E2E_RELOADD_PORT/metrics")
grep -q '^reloader_events_received_total{event_type="update",resource_type="secretproviderclasspodstatuses"} [1-9]' <<<"$metrics" ||
    e2e_fail "no update events of secretproviderclasspodstatuses: $(grep events_received <<<"$metrics")"
grep -qx 'reloader_cached_objects{kind="secretproviderclasses"} 2' <<<"$metrics" ||
    e2e_fail "cached classes: $(grep cached_objects <<<"$metrics")"
grep -q '^reloader_cached_objects{kind="secretproviderclasspodstatuses"} [1-9]' <<<"$metrics" ||
    e2e_fail "cached status objects: $(grep cached_objects <<<"$metrics")"
grep -q '^reloader_skipped_total{reason="no_data_change"} [1-9]' <<<"$metrics" ||
    e2e_fail "same-objects updates not counted as no_data_change: $(grep skipped_total <<<"$metrics")"
curl -fsS "http://127.0.0.1:$E2E_EXPLAIN_PORT/explain?kind=deployment&name=auto&namespace=$ns" >"$E2E_DIR/explain.json" ||
    e2e_fail "/explain failed"
jq -e --arg h "$h2" '.decision == "none" and ([.sources[] | select(.type == "secretproviderclass" and .name == "spc-a"
    and .verdict == "up-to-date" and .hash == $h)] | length == 1)' "$E2E_DIR/explain.json" >/dev/null ||
    e2e_fail "/explain: $(cat "$E2E_DIR/explain.json")"
curl -fsS "http://127.0.0.1:$E2E_EXPLAIN_PORT/explain?kind=deployment&name=excluded&namespace=$ns" >"$E2E_DIR/explain-ex.json" ||
    e2e_fail "/explain failed"
jq -e '[.sources[] | select(.type == "secretproviderclass" and .verdict == "skip")] | length == 1' \
    "$E2E_DIR/explain-ex.json" >/dev/null || e2e_fail "/explain of excluded: $(cat "$E2E_DIR/explain-ex.json")"

"$RELOADD_BIN" explain deployment/auto -n "$ns" --kubeconfig="$RELOADD_CONTROLLER_KUBECONFIG" \
    --enable-csi-integration >"$E2E_DIR/cli.json" 2>"$E2E_DIR/cli.err" || e2e_fail "reloadd explain: $(cat "$E2E_DIR/cli.err")"
jq -e --arg h "$h2" '.decision == "none" and ([.sources[] | select(.type == "secretproviderclass" and .name == "spc-a"
    and .verdict == "up-to-date" and .hash == $h)] | length == 1)' "$E2E_DIR/cli.json" >/dev/null ||
    e2e_fail "reloadd explain: $(cat "$E2E_DIR/cli.json")"

e2e_log "annotations strategy: a restart (the API there at start) writes nothing, a rotation rolls once"
e2e_stop_reloadd "$E2E_RELOADD_PID"
w0=$(e2e_writes "$ns")
e2e_start_reloadd "${flags[@]}" --reload-strategy=annotations
log=$E2E_DIR/reloadd-1.log
grep -qF -- '--enable-csi-integration: watching' "$log" || e2e_fail "the CSI API was not watched from the start"
e2e_wait 20 "startup pass" grep -q "startup sync done" "$log"
sleep 3
[ "$(e2e_writes "$ns")" = "$w0" ] || e2e_fail "$(($(e2e_writes "$ns") - w0)) writes after a restart with nothing changed"
rotate v3
h3=$(hash_of spc-a v3)
for d in auto generic named; do
    kubectl get -n "$ns" "deployment/$d" -o json | jq -e --arg h "$h3" --arg ns "$ns" '
        (.spec.template.metadata.annotations["reloader.stakater.com/last-reloaded-from"] | fromjson) as $s
        | $s.type == "SECRETPROVIDERCLASS" and $s.name == "spc-a" and $s.namespace == $ns and $s.hash == $h
          and $s.containerRefs == ["app"]' >/dev/null ||
        e2e_fail "$d: last-reloaded-from is $(kubectl get -n "$ns" "deployment/$d" -o jsonpath='{.spec.template.metadata.annotations}')"
done
e2e_stop_reloadd "$E2E_RELOADD_PID"
