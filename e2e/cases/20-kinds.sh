# Every kind: DaemonSet and StatefulSet are patched, a CronJob gets a Job,
# a Job is recreated, an Argo Rollout is updated or restarted.
e2e_needs audit-log
ns=$(e2e_ns kinds)
kubectl apply -f "$(dirname "${BASH_SOURCE[0]}")/../fixtures/argo-rollout-crd.yaml" >/dev/null
kubectl wait --for=condition=Established crd/rollouts.argoproj.io --timeout=30s >/dev/null
e2e_cm "$ns" cfg a=1

pod='      containers:
      - name: app
        image: registry.invalid/app:1
        envFrom: [{configMapRef: {name: cfg}}]'
kubectl apply -n "$ns" -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  selector: {matchLabels: {app: ds}}
  template:
    metadata: {labels: {app: ds}}
    spec:
$pod
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: sts, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  serviceName: sts
  replicas: 1
  selector: {matchLabels: {app: sts}}
  template:
    metadata: {labels: {app: sts}}
    spec:
$pod
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cj, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  schedule: "0 0 1 1 *"
  suspend: true
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: app
            image: registry.invalid/app:1
            envFrom: [{configMapRef: {name: cfg}}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: job, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: app
        image: registry.invalid/app:1
        envFrom: [{configMapRef: {name: cfg}}]
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: ro, annotations: {reloader.stakater.com/auto: "true"}}
spec:
  selector: {matchLabels: {app: ro}}
  template:
    metadata: {labels: {app: ro}}
    spec:
$pod
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: ro-restart
  annotations: {reloader.stakater.com/auto: "true", reloader.stakater.com/rollout-strategy: restart}
spec:
  selector: {matchLabels: {app: ro-restart}}
  template:
    metadata: {labels: {app: ro-restart}}
    spec:
$pod
YAML

e2e_start_reloadd --namespaces="$ns" --is-Argo-Rollouts=true
e2e_wait_recorded "$ns" DaemonSet/ds StatefulSet/sts CronJob/cj Job/job Rollout/ro Rollout/ro-restart
ds0=$(e2e_generation "$ns" DaemonSet/ds)
sts0=$(e2e_generation "$ns" StatefulSet/sts)
job_uid0=$(kubectl get -n "$ns" job/job -o jsonpath='{.metadata.uid}')
ro0=$(kubectl get -n "$ns" rollout/ro -o jsonpath='{.metadata.generation}')
jobs_of_cj() { kubectl get jobs -n "$ns" -o json | jq '[.items[] | select(.metadata.ownerReferences[0].kind=="CronJob")] | length'; }
[ "$(jobs_of_cj)" -eq 0 ] || e2e_fail "a Job was created from the CronJob before any change"
[ -z "$(kubectl get -n "$ns" rollout/ro-restart -o jsonpath='{.spec.restartAt}')" ] || e2e_fail "restartAt set before any change"

moved() { [ "$(e2e_generation "$ns" "$1")" != "$2" ]; }
one_job() { [ "$(jobs_of_cj)" -eq 1 ]; }
job_recreated() {
    local uid
    uid=$(kubectl get -n "$ns" job/job -o jsonpath='{.metadata.uid}' 2>/dev/null) &&
        [ -n "$uid" ] && [ "$uid" != "$job_uid0" ]
}
restarted() { [ -n "$(kubectl get -n "$ns" rollout/ro-restart -o jsonpath='{.spec.restartAt}')" ]; }

e2e_cm "$ns" cfg a=2
e2e_wait 5 "DaemonSet rolled" moved DaemonSet/ds "$ds0"
e2e_wait 5 "StatefulSet rolled" moved StatefulSet/sts "$sts0"
e2e_wait 5 "a Job created from the CronJob" one_job
e2e_wait 10 "Job recreated" job_recreated
e2e_wait 5 "Rollout updated" moved Rollout/ro "$ro0"
e2e_wait 5 "Rollout restartAt" restarted

kubectl get -n "$ns" job -o json | jq -e '[.items[] | select(.metadata.ownerReferences[0].kind=="CronJob")][0].metadata.annotations["cronjob.kubernetes.io/instantiate"] == "manual"' >/dev/null ||
    e2e_fail "the Job from the CronJob lacks cronjob.kubernetes.io/instantiate=manual"
kubectl get -n "$ns" rollout/ro -o json |
    jq -e '.spec.template.spec.containers[0].env[] | select(.name=="STAKATER_CFG_CONFIGMAP")' >/dev/null ||
    e2e_fail "the Rollout's template has no STAKATER_CFG_CONFIGMAP"

# Settled: no write at all for a while (no second Job, no second rollout).
e2e_settled "$ns" 3
[ "$(jobs_of_cj)" -eq 1 ] || e2e_fail "$(jobs_of_cj) Jobs from the CronJob, want 1"
[ "$(e2e_generation "$ns" DaemonSet/ds)" = $((ds0 + 1)) ] || e2e_fail "DaemonSet rolled more than once"
