# Reload semantics that a reload-then-stop check alone would miss (issue 12):
#  1. a deleted source rolls its workload once, with either strategy and
#     --reload-on-delete, and then nothing more (annotations used to roll
#     once a second forever: its marker held the delete hash);
#  2. a source deleted right after the workload appears rolls it (annotations;
#     under env-vars there is no env var to remove yet, and, as Reloader,
#     nothing rolls), also when
#     reloadd could not write the workload's baseline first (reloadd is
#     stopped with SIGSTOP while both happen, so both events wait in its
#     sockets and the baseline cannot come first);
#  3. a new workload carrying a marker of another version (a restored
#     backup) is a baseline: no rollout at creation, none when the source
#     takes the marker's version, and a later real change rolls once. Both
#     orders of the source's and the workload's first events: the source
#     seen first, and both queued behind SIGSTOP.
# Every rollout is followed by a quiet period with no write (e2e_settled).
e2e_needs signals audit-log

# A rollout changes the pod template, and the Deployment controller counts
# each new template in the deployment.kubernetes.io/revision annotation (also
# when a template comes back, as after an env var is removed); a record
# (metadata) patch changes neither, though it bumps a Deployment's
# generation. "Rolled once" = revision + 1, then no write at all for a while.
revision() { kubectl get deployment -n "$1" "$2" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}'; }
state() { # ns name: "<revision> <template sha>"
    echo "$(revision "$1" "$2") $(e2e_template "$1" "deployment/$2" | sha1sum | cut -c1-12)"
}
rolled_once() { # ns name state0
    local ns=$1 n=$2 rev0=${3%% *} t0=${3#* }
    e2e_wait 10 "$n rolled" bash -c "[ \"\$(kubectl get -n $ns deployment/$n -o jsonpath='{.spec.template}' | sha1sum | cut -c1-12)\" != $t0 ]"
    e2e_wait 5 "$n's new revision" bash -c "[ \"\$(kubectl get deployment -n $ns $n -o jsonpath='{.metadata.annotations.deployment\\.kubernetes\\.io/revision}')\" -gt $rev0 ]"
    e2e_settled "$ns" 4 "deployment/$n"
    local rev
    rev=$(revision "$ns" "$n")
    [ "$rev" = $((rev0 + 1)) ] || e2e_fail "$n rolled $((rev - rev0)) times, want once"
}
not_rolled() { # ns name state0 seconds
    sleep "$4"
    local now
    now=$(state "$1" "$2")
    [ "$now" = "$3" ] || e2e_fail "$2 rolled ($3 -> $now) but should not have"
}
settle_rs() { e2e_wait 10 "$2's first revision" bash -c "[ -n \"\$(kubectl get deployment -n $1 $2 -o jsonpath='{.metadata.annotations.deployment\\.kubernetes\\.io/revision}')\" ]"; }
named_deploy() { # ns name annotations container-extra
    e2e_deploy "$1" "$2" "$3" "$(e2e_container "${4:-}")"
}
hash_of() { printf '%s' "$1" | sha1sum | cut -d' ' -f1; }

# E2E_SEM_PARTS selects parts (default "1 2 3"), e.g. to show each fails on an older binary.
part() { [[ " ${E2E_SEM_PARTS:-1 2 3} " == *" $1 "* ]]; }
for strategy in annotations env-vars; do
  if part 1; then
    # --- 1: delete, roll once, stop ---------------------------------------
    ns=$(e2e_ns sem1)
    e2e_cm "$ns" other k=v1
    e2e_secret "$ns" creds p=v1
    named_deploy "$ns" control '{configmap.reloader.stakater.com/reload: "other"}' \
        '        envFrom: [{configMapRef: {name: other, optional: true}}]'
    named_deploy "$ns" control-s '{secret.reloader.stakater.com/reload: "creds"}'
    e2e_start_reloadd --reload-strategy="$strategy" --reload-on-delete=true --namespaces="$ns"
    e2e_wait_recorded "$ns" deployment/control deployment/control-s
    settle_rs "$ns" control
    settle_rs "$ns" control-s
    # A change first, so that an env-vars marker is there for the delete to remove.
    s0=$(state "$ns" control)
    ss=$(state "$ns" control-s)
    e2e_cm "$ns" other k=v2
    e2e_secret "$ns" creds p=v2
    rolled_once "$ns" control "$s0"
    rolled_once "$ns" control-s "$ss"
    s0=$(state "$ns" control)
    ss=$(state "$ns" control-s)
    kubectl delete configmap -n "$ns" other >/dev/null
    kubectl delete secret -n "$ns" creds >/dev/null
    rolled_once "$ns" control "$s0"
    rolled_once "$ns" control-s "$ss"
    e2e_log "$strategy: delete rolled once and stopped"
    # Re-created (no --reload-on-create): recorded, not rolled.
    s1=$(state "$ns" control)
    e2e_cm "$ns" other k=v3
    not_rolled "$ns" control "$s1" 3
    e2e_settled "$ns" 2
    e2e_stop_reloadd "$E2E_RELOADD_PID"
  fi

  if part 2; then
    # --- 2: deleted right after the workload appears ------------------------
    ns=$(e2e_ns sem2)
    e2e_cm "$ns" early k=v1
    e2e_secret "$ns" early-s p=v1
    e2e_cm "$ns" late k=v1
    # A 3 s window: a's two deletes land in one even on a loaded machine (two
    # windows would rightly give two rollouts, the second for a delete made after the first).
    e2e_start_reloadd --reload-strategy="$strategy" --reload-on-delete=true --namespaces="$ns" \
        --coalesce-window=3s
    # a: at once, reloadd running (the record may or may not come first).
    named_deploy "$ns" a '{configmap.reloader.stakater.com/reload: "early", secret.reloader.stakater.com/reload: "early-s"}'
    kubectl delete -n "$ns" configmap/early secret/early-s >/dev/null
    sa="0 $(e2e_template "$ns" deployment/a | sha1sum | cut -c1-12)"
    settle_rs "$ns" a
    # Under env-vars a new workload has no env var to remove: Reloader rolls nothing
    # (docs/reloader.md §3.3).
    deleted_rolls() { if [ "$strategy" = annotations ]; then rolled_once "$@"; else not_rolled "$1" "$2" "$3" 6; fi; }
    deleted_rolls "$ns" a "1 ${sa#* }"
    # b: the delete is seen before any baseline can be written.
    kill -STOP "$E2E_RELOADD_PID"
    named_deploy "$ns" b '{configmap.reloader.stakater.com/reload: "late"}'
    sb="1 $(e2e_template "$ns" deployment/b | sha1sum | cut -c1-12)"
    kubectl delete configmap -n "$ns" late >/dev/null
    kill -CONT "$E2E_RELOADD_PID"
    settle_rs "$ns" b
    deleted_rolls "$ns" b "$sb"
    # c: a workload created after the delete does not roll for it.
    named_deploy "$ns" c '{configmap.reloader.stakater.com/reload: "late"}'
    settle_rs "$ns" c
    sc=$(state "$ns" c)
    not_rolled "$ns" c "$sc" 3
    e2e_log "$strategy: deletes right after the workload appeared rolled once each"
    e2e_stop_reloadd "$E2E_RELOADD_PID"
  fi

  if part 3; then
    # --- 3: a new workload with a marker of another version -----------------
    ns=$(e2e_ns sem3)
    v2=$(hash_of "key=v2")
    marked_deploy() { # name configmap
        local env=${2^^}
        if [ "$strategy" = env-vars ]; then
            e2e_deploy "$ns" "$1" '{reloader.stakater.com/auto: "true"}' "$(e2e_container \
                "        env: [{name: STAKATER_${env//-/_}_CONFIGMAP, value: \"$v2\"}]
        envFrom: [{configMapRef: {name: $2}}]")"
        else
            local lrf
            lrf=$(jq -cn --arg h "$v2" --arg ns "$ns" --arg n "$2" \
                '{type:"CONFIGMAP",name:$n,namespace:$ns,hash:$h,containerRefs:["app"],observedAt:1}')
            kubectl apply -n "$ns" -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  replicas: 1
  selector: {matchLabels: {app: $1}}
  template:
    metadata:
      labels: {app: $1}
      annotations: {reloader.stakater.com/last-reloaded-from: '$lrf'}
    spec:
      containers:
      - name: app
        image: registry.invalid/app:1
        envFrom: [{configMapRef: {name: $2}}]
YAML
        fi
    }
    e2e_start_reloadd --reload-strategy="$strategy" --namespaces="$ns"
    # Order 1: the ConfigMap is seen first, then the workload appears.
    e2e_cm "$ns" cfg key=v1
    sleep 1
    marked_deploy first cfg
    # Order 2: both wait behind SIGSTOP (the informers read them in either order).
    kill -STOP "$E2E_RELOADD_PID"
    e2e_cm "$ns" cfg2 key=v1
    marked_deploy second cfg2
    kill -CONT "$E2E_RELOADD_PID"
    e2e_wait_recorded "$ns" deployment/first deployment/second
    settle_rs "$ns" first
    settle_rs "$ns" second
    e2e_settled "$ns" 2
    s1=$(state "$ns" first)
    s2=$(state "$ns" second)
    [ "${s1%% *}" = 1 ] && [ "${s2%% *}" = 1 ] || e2e_fail "a new workload rolled at creation ($s1, $s2)"
    # The sources take the markers' version: nothing to do (Reloader writes nothing either).
    e2e_cm "$ns" cfg key=v2
    e2e_cm "$ns" cfg2 key=v2
    not_rolled "$ns" first "$s1" 3
    not_rolled "$ns" second "$s2" 0
    # A real change rolls, once.
    e2e_cm "$ns" cfg key=v3
    e2e_cm "$ns" cfg2 key=v3
    rolled_once "$ns" first "$s1"
    rolled_once "$ns" second "$s2"
    e2e_log "$strategy: new workloads with stale markers were baselines; a real change rolled once"
    e2e_stop_reloadd "$E2E_RELOADD_PID"
  fi
done
