#!/usr/bin/env bash
# e2e/kind/reloadd-chart.sh - stands in for the reloadd binary (RELOADD_BIN)
# when the e2e suite runs on kind: each "start" of reloadd is a Helm release
# of deploy/helm/reloadd running the image in the cluster.
#
#   --help, --version, bad flags   docker run the image with those arguments
#   anything else (a run)          helm install a release (one replica, in
#                                  namespace $RELOADD_E2E_NAMESPACE) with the
#                                  arguments mapped to chart values; then
#                                  port-forward its metrics port to the
#                                  --metrics-addr the suite chose and stream
#                                  the pod's logs. SIGTERM/SIGINT uninstall
#                                  the release (the pod gets SIGTERM).
#
# Mapping: --kubeconfig is dropped (the pod uses its ServiceAccount);
# --metrics-addr gives the local port, --explain-addr the local port of a
# second port-forward to the pod's /explain (127.0.0.1:9091); --namespaces=a,b sets
# reloader.watchGlobally=false and reloader.namespaces (so the chart grants
# Roles there); --is-Argo-Rollouts=true sets reloader.isArgoRollouts;
# --enable-ha sets reloader.enableHA; every other argument goes to
# reloadd.extraArgs. A SIGKILL of this script cannot uninstall: run.sh
# removes every release it made at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${RELOADD_IMAGE:?}" "${RELOADD_E2E_NAMESPACE:=reloadd-e2e}"
helm=${HELM:-$("$root/tools/helm/build.sh")}

run=0
for a in "$@"; do
    case $a in --help|-h|--version) ;; *) run=1 ;; esac
done
if [ $run -eq 0 ] || ! printf '%s\n' "$@" | grep -q -- '^--metrics-addr='; then
    exec docker run --rm "$RELOADD_IMAGE" "$@"
fi

port="" xport="" ns_list="" argo=false ha=false extra=()
for a in "$@"; do
    case $a in
    --kubeconfig=*) ;;
    --metrics-addr=*) port=${a##*:} ;;
    --explain-addr=off|--explain-addr=) xport="" ;;
    --explain-addr=*) xport=${a##*:} ;;
    --namespaces=*) ns_list=${a#--namespaces=} ;;
    --is-Argo-Rollouts=true) argo=true ;;
    --enable-ha|--enable-ha=true) ha=true ;;
    *) extra+=("$a") ;;
    esac
done
release=e2e-$(openssl rand -hex 4)
values=$(mktemp)
trap 'rm -f "$values"' EXIT
if [ ${#extra[@]} -gt 0 ]; then
    extra_json=$(printf '%s\n' "${extra[@]}" | jq -R . | jq -s -c .)
else
    extra_json='[]'
fi
jq -n --arg img "$RELOADD_IMAGE" --arg ns "$ns_list" --argjson argo "$argo" --argjson ha "$ha" \
      --argjson extra "$extra_json" '{
    image: {repository: ($img | sub(":[^:/]*$"; "")), tag: ($img | capture(":(?<t>[^:/]*)$").t), pullPolicy: "IfNotPresent"},
    reloader: ({
        isArgoRollouts: $argo, enableHA: $ha,
        deployment: {replicas: 1,
                     tolerations: [{key: "reloadd-e2e/real-node", operator: "Exists", effect: "NoSchedule"}]},
        podDisruptionBudget: {enabled: false}
      } + (if $ns == "" then {} else {watchGlobally: false, namespaces: ($ns | split(","))} end)),
    reloadd: {extraArgs: $extra}
  }' >"$values"

uninstall() {
    "$helm" uninstall "$release" -n "$RELOADD_E2E_NAMESPACE" --wait --timeout 60s >/dev/null 2>&1 || true
    [ -z "${pf:-}" ] || kill "$pf" 2>/dev/null || true
    [ -z "${xpf:-}" ] || kill "$xpf" 2>/dev/null || true
    [ -z "${lg:-}" ] || kill "$lg" 2>/dev/null || true
    rm -f "$values"
}
trap 'uninstall; exit 0' TERM INT
trap 'uninstall' EXIT
"$helm" upgrade --install "$release" "$root/deploy/helm/reloadd" -n "$RELOADD_E2E_NAMESPACE" \
    --create-namespace -f "$values" --labels reloadd-e2e=true --wait --timeout 180s >/dev/null
kubectl logs -n "$RELOADD_E2E_NAMESPACE" -f "deployment/$release-reloadd" &
lg=$!
kubectl port-forward -n "$RELOADD_E2E_NAMESPACE" "deployment/$release-reloadd" "$port:9090" >/dev/null &
pf=$!
# /explain listens on the pod's loopback (127.0.0.1:9091): a port-forward reaches it there.
if [ -n "$xport" ]; then
    kubectl port-forward -n "$RELOADD_E2E_NAMESPACE" "deployment/$release-reloadd" "$xport:9091" >/dev/null &
    xpf=$!
fi
wait "$pf"
