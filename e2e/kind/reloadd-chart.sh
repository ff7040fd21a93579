#!/usr/bin/env bash
# e2e/kind/reloadd-chart.sh - stands in for the reloadd binary (RELOADD_BIN)
# when the e2e suite runs on kind (e2e/kind/run.sh): each "start" of reloadd
# is a Helm release of deploy/helm/reloadd running the image in the cluster.
#
#   --help, --version, bad flags   docker run the image with those arguments
#   anything else (a run)          helm install a release (one replica, in
#                                  namespace $RELOADD_E2E_NAMESPACE, on the
#                                  real node) with the arguments mapped to
#                                  chart values; port-forward its metrics
#                                  port to the --metrics-addr the suite chose
#                                  (and /explain to --explain-addr); stream
#                                  the pod's log as this "process"'s output.
#   SIGTERM/SIGINT                 uninstall the release: the pod gets
#                                  SIGTERM; this script exits with the
#                                  container's exit status (the pod is held
#                                  by a finalizer until that is read), so
#                                  e2e_stop_reloadd judges the real exit.
#
# Mapping: --kubeconfig is dropped (the pod uses its ServiceAccount);
# --namespaces=a,b sets reloader.watchGlobally=false and reloader.namespaces
# (so the chart grants Roles there); --namespace-selector,
# --namespaces-to-ignore, --resource-label-selector, --webhook-url,
# --is-Argo-Rollouts=true and --enable-ha set their chart values (which also
# shape the RBAC); every other argument goes to reloadd.extraArgs.
# ALERT_* variables of this script's environment become the container's
# (reloader.deployment.env.open). A URL to the host's loopback (127.0.0.1 or
# localhost, in an argument or an ALERT_* value) is rewritten to a relay
# (e2e/tools/relay.py) on $E2E_KIND_HOST_BIND that forwards to it, at
# $E2E_KIND_HOST_ADDR, the host's address as the pods reach it.
#
# A SIGKILL of this script cannot clean up: e2e/kind/run.sh removes every
# release, finalizer and helper process (listed in $E2E_KIND_WORK/pids) at
# the end of the run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${RELOADD_IMAGE:?}" "${RELOADD_E2E_NAMESPACE:=reloadd-e2e}"
ns=$RELOADD_E2E_NAMESPACE
finalizer=reloadd-e2e/exit-status

run=0
for a in "$@"; do
    case $a in --help|-h|--version) ;; *) run=1 ;; esac
done
if [ $run -eq 0 ] || ! grep -q -- '^--metrics-addr=' <<<"$(printf '%s\n' "$@")"; then
    exec docker run --rm "$RELOADD_IMAGE" "$@"
fi
helm=${HELM:-$("$here/helm.sh")}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/reloadd-chart.XXXXXX")
children=()
# track PID: a helper to stop at the end (by this script, or by run.sh after a SIGKILL).
track() {
    children+=("$1")
    [ -z "${E2E_KIND_WORK:-}" ] || echo "$1" >>"$E2E_KIND_WORK/pids"
}

# to_host STRING: sets $hosted to STRING with each http(s)://127.0.0.1:PORT
# or localhost:PORT replaced by the address of a relay that the pods reach
# (not in a subshell: the relays are this script's children).
declare -A relayed
hosted=""
to_host() {
    local s=$1 out="" m host port
    if [ -z "${E2E_KIND_HOST_ADDR:-}" ]; then
        hosted=$s
        return
    fi
    while [[ $s =~ (https?://)(127\.0\.0\.1|localhost):([0-9]+) ]]; do
        m=${BASH_REMATCH[0]} port=${BASH_REMATCH[3]}
        if [ -z "${relayed[$port]:-}" ]; then
            python3 "$here/../tools/relay.py" --bind "${E2E_KIND_HOST_BIND:-$E2E_KIND_HOST_ADDR}" \
                --port-file "$tmp/relay-$port" 0 127.0.0.1 "$port" \
                >>"$tmp/relay.log" 2>&1 &
            track $!
            for _ in $(seq 1 50); do [ -s "$tmp/relay-$port" ] && break; sleep 0.1; done
            [ -s "$tmp/relay-$port" ] || { echo "reloadd-chart: relay for port $port did not start" >&2; exit 1; }
            relayed[$port]=$(cat "$tmp/relay-$port")
        fi
        host=$E2E_KIND_HOST_ADDR
        [[ $host == *:* ]] && host="[$host]"
        out+=${s%%"$m"*}${BASH_REMATCH[1]}$host:${relayed[$port]}
        s=${s#*"$m"}
    done
    hosted=$out$s
}

port="" xport="" ns_list="" argo=false ha=false extra=() vals='{}'
setval() { vals=$(jq -c --arg k "$1" --arg v "$2" '. + {($k): $v}' <<<"$vals"); }
for a in "$@"; do
    case $a in
    --kubeconfig=*) ;;
    --metrics-addr=*) port=${a##*:} ;;
    --explain-addr=off|--explain-addr=) xport="" ;;
    --explain-addr=*) xport=${a##*:} ;;
    --namespaces=*) ns_list=${a#--namespaces=} ;;
    --namespace-selector=*) setval namespaceSelector "${a#*=}" ;;
    --namespaces-to-ignore=*) setval ignoreNamespaces "${a#*=}" ;;
    --resource-label-selector=*) setval resourceLabelSelector "${a#*=}" ;;
    --webhook-url=*) to_host "${a#*=}"; setval webhookUrl "$hosted" ;;
    --is-Argo-Rollouts|--is-Argo-Rollouts=true) argo=true ;;
    --enable-ha|--enable-ha=true) ha=true ;;
    *) to_host "$a"; extra+=("$hosted") ;;
    esac
done
env_json='{}'
while IFS= read -r name; do
    to_host "${!name}"
    env_json=$(jq -c --arg k "$name" --arg v "$hosted" '. + {($k): $v}' <<<"$env_json")
done < <(compgen -e | grep '^ALERT_' || true)
if [ ${#extra[@]} -gt 0 ]; then
    extra_json=$(printf '%s\n' "${extra[@]}" | jq -R . | jq -s -c .)
else
    extra_json='[]'
fi

release=e2e-$(openssl rand -hex 4)
values=$tmp/values.json
jq -n --arg img "$RELOADD_IMAGE" --arg ns "$ns_list" --argjson argo "$argo" --argjson ha "$ha" \
      --argjson extra "$extra_json" --argjson vals "$vals" --argjson env "$env_json" '{
    image: {repository: ($img | sub(":[^:/]*$"; "")), tag: ($img | capture(":(?<t>[^:/]*)$").t), pullPolicy: "IfNotPresent"},
    reloader: ({
        isArgoRollouts: $argo, enableHA: $ha,
        deployment: {
            replicas: 1,
            # The real node only: the kwok node (untainted, more room) runs no containers.
            nodeSelector: {"reloadd-e2e/real-node": "true"},
            tolerations: [{key: "reloadd-e2e/real-node", operator: "Exists", effect: "NoSchedule"}],
            env: {open: $env},
            # Ready as soon as it is: a start of reloadd is a Helm install here.
            startupProbe: {periodSeconds: 1, failureThreshold: 120},
            readinessProbe: {periodSeconds: 1}
        },
        podDisruptionBudget: {enabled: false}
      } + $vals
        + (if $ns == "" then {} else {watchGlobally: false, namespaces: ($ns | split(","))} end)),
    reloadd: {extraArgs: $extra}
  }' >"$values"

pod=""
# shellcheck disable=SC2317  # cleanup and stop run from traps
cleanup() {
    local pid
    for pid in "${children[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -z "$pod" ] || kubectl patch pod -n "$ns" "$pod" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
# stop: uninstall, wait for the container to exit (at most 9 s: the suite
# gives a stopped reloadd 10), let the log stream end, and exit with the
# container's status.
# shellcheck disable=SC2317
stop() {
    trap - TERM INT
    local code=""
    "$helm" uninstall "$release" -n "$ns" --timeout 60s >/dev/null 2>&1 || true
    if [ -n "$pod" ]; then
        for _ in $(seq 1 45); do
            code=$(kubectl get pod -n "$ns" "$pod" \
                -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}' 2>/dev/null || true)
            [ -z "$code" ] || break
            sleep 0.2
        done
        for _ in $(seq 1 10); do kill -0 "${lg:-}" 2>/dev/null || break; sleep 0.1; done
    fi
    cleanup
    trap - EXIT
    if [ -z "$code" ]; then
        echo "reloadd-chart: pod $pod did not stop within 9 s of the uninstall" >&2
        exit 1
    fi
    exit "$code"
}
trap cleanup EXIT
trap stop TERM INT

"$helm" upgrade --install "$release" "$root/deploy/helm/reloadd" -n "$ns" \
    --create-namespace -f "$values" --wait --timeout 180s >"$tmp/helm.log" 2>&1 ||
    { cat "$tmp/helm.log" >&2; exit 1; }
pod=$(kubectl get pods -n "$ns" -l "app.kubernetes.io/instance=$release" \
    -o jsonpath='{.items[0].metadata.name}')
[ -n "$pod" ] || { echo "reloadd-chart: release $release has no pod" >&2; exit 1; }
kubectl patch pod -n "$ns" "$pod" --type=merge -p "{\"metadata\":{\"finalizers\":[\"$finalizer\"]}}" >/dev/null
kubectl logs -n "$ns" -f "pod/$pod" &
lg=$!
track "$lg"
kubectl port-forward -n "$ns" "pod/$pod" "$port:9090" >/dev/null &
pf=$!
track "$pf"
# /explain listens on the pod's loopback (127.0.0.1:9091): a port-forward reaches it there.
if [ -n "$xport" ]; then
    kubectl port-forward -n "$ns" "pod/$pod" "$xport:9091" >/dev/null &
    track $!
fi
# Until a signal (the trap exits) or the port-forward ends (the pod went away).
wait "$pf" || true
echo "reloadd-chart: the port-forward to $pod ended" >&2
exit 1
