# Safe CronJobs (issue 17): with --cronjob-strategy=template a changed
# source goes into the CronJob's job template, for its next scheduled run:
# no Job is started off schedule, a suspended CronJob stays idle (Reloader
# #822 starts one), and the template carries the marker of the new data.
e2e_needs audit-log
ns=$(e2e_ns cron)
e2e_cm "$ns" cfg v=1
cronjob() { # name suspend
    kubectl apply -n "$ns" -f - >/dev/null <<YAML
apiVersion: batch/v1
kind: CronJob
metadata: {name: $1, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  schedule: "0 0 1 1 *"
  suspend: $2
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: app
            image: registry.invalid/app:1
            envFrom: [{configMapRef: {name: cfg}}]
YAML
}
cronjob idle true
cronjob live false
e2e_start_reloadd --namespaces="$ns" --cronjob-strategy=template
e2e_wait_recorded "$ns" CronJob/idle CronJob/live
marker() { kubectl get -n "$ns" "cronjob/$1" -o json | jq -r '[.spec.jobTemplate.spec.template.spec.containers[0].env[]? | select(.name == "STAKATER_CFG_CONFIGMAP") | .value][0] // ""'; }
e2e_cm "$ns" cfg v=2
want=$(printf 'v=2' | sha1sum | cut -c1-40)
for cj in idle live; do
    e2e_wait 10 "$cj's job template carries the new data" bash -c "[ \"\$(kubectl get -n $ns cronjob/$cj -o json | jq -r '[.spec.jobTemplate.spec.template.spec.containers[0].env[]? | select(.name == \"STAKATER_CFG_CONFIGMAP\") | .value][0] // \"\"')\" = $want ]"
done
e2e_settled "$ns" 3 CronJob/idle CronJob/live
jobs=$(kubectl get jobs -n "$ns" -o name | wc -l)
e2e_log "markers: idle $(marker idle), live $(marker live); Jobs in the namespace: $jobs"
[ "$jobs" -eq 0 ] || e2e_fail "$jobs Jobs were started; --cronjob-strategy=template starts none"
[ "$(kubectl get -n "$ns" cronjob/idle -o jsonpath='{.spec.suspend}')" = true ] || e2e_fail "idle was unsuspended"
