#!/usr/bin/env bash
# tests/deploy/check.sh - checks the deployment artefacts
#
#   1. `helm lint` of deploy/helm/reloadd (default values and value sets);
#   2. `helm template` with value sets, asserting what each renders (flags,
#      env, RBAC, security settings) and that Reloader's chart bugs
#      (docs/reloader.md §15.31 and §7.3 of the same file) are not repeated;
#      tests/deploy/drop-in.sh (sourced): the chart as a drop-in for
#      Stakater Reloader's chart 2.2.16 (names, labels, selectors, Service,
#      monitors, every value of its values.yaml, the schema's refusals);
#   3. `kubectl kustomize` of deploy/kubernetes (and namespaced/,
#      monitoring/), asserting the same, and that the RBAC files agree:
#      the chart's roles = clusterrole.yaml/role.yaml, namespaced copies =
#      the originals;
#   4. every flag the chart or the manifests pass is one `reloadd --help`
#      lists (RELOADD_BIN, default build/reloadd), when that binary exists;
#   5. with a cluster in the environment (KUBECONFIG set, kubectl on PATH,
#      e.g. from `eval "$(tools/cluster up)"`): `kubectl apply
#      --dry-run=server` of the kustomize output and of the rendered chart
#      (several value sets); then, on a tools/cluster cluster only
#      (RELOADD_CLUSTER_DIR set), the kustomize RBAC is applied for real and
#      the ServiceAccount's permissions are probed with SubjectAccessReviews
#      (what it needs is allowed, a sample of what it does not is denied).
#
# Prints "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
chart=deploy/helm/reloadd
pass=0 fail=0 skip=0
work=$(mktemp -d "${TMPDIR:-/tmp}/reloadd-deploy.XXXXXX")
cleanup_ns=()
cleanup() {
    local o
    for o in "${cleanup_ns[@]}"; do kubectl delete $o --wait=false >/dev/null 2>&1 || true; done
    rm -rf "$work"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
skipped() { skip=$((skip + 1)); echo "skip $*"; }
# check DESCRIPTION CMD...: one assertion.
check() {
    local what=$1; shift
    local out
    if out=$("$@" 2>&1); then ok "$what"; else bad "$what"; [ -z "$out" ] || sed 's/^/       /' <<<"$out" | head -20; fi
}

# -------------------------------------------------------------- tools ---
if ! python3 -c 'import yaml' 2>/dev/null; then
    echo "deploy: installing python3-yaml (apt-get)" >&2
    s=""; [ "$(id -u)" -eq 0 ] || s=sudo
    $s apt-get update -qq && DEBIAN_FRONTEND=noninteractive $s apt-get install -y -qq --no-install-recommends python3-yaml >/dev/null
fi
command -v jq >/dev/null || { echo "deploy: jq is needed (scripts/deps.sh installs it)" >&2; exit 1; }
helm=$("$root/tools/helm/build.sh") || { echo "deploy: cannot build helm" >&2; exit 1; }
export HELM_CACHE_HOME=$work/helm-cache HELM_CONFIG_HOME=$work/helm-config HELM_DATA_HOME=$work/helm-data

# Multi-document YAML on stdin -> JSON array of the documents (nulls dropped).
y2j() { python3 -c 'import sys, json, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))'; }

# render NAME [helm args...]: helm template into $work/NAME.{yaml,json}.
render() {
    local name=$1; shift
    if "$helm" template rl "$chart" -n reloadd "$@" >"$work/$name.yaml" 2>"$work/$name.err"; then
        y2j <"$work/$name.yaml" >"$work/$name.json"
        ok "helm template ($name)"
    else
        bad "helm template ($name)"; sed 's/^/       /' "$work/$name.err" | head -10
        echo '[]' >"$work/$name.json"
    fi
}
# q NAME JQ: jq -e over a rendering (exit status is the assertion).
q() { jq -e "$2" "$work/$1.json" >/dev/null; }
# The container of the Deployment, args and env names.
dep='(.[] | select(.kind=="Deployment"))'
ctr="($dep | .spec.template.spec.containers[0])"
has_arg() { q "$1" "$ctr | .args | index(\"$2\") != null"; }
no_arg_prefix() { q "$1" "[$ctr | .args[] | select(startswith(\"$2\"))] | length == 0"; }
has_env() { q "$1" "[$ctr | .env[]?.name] | index(\"$2\") != null"; }
no_env() { q "$1" "[$ctr | .env[]?.name] | index(\"$2\") == null"; }
# Rules of a role as a canonical JSON (sorted rules, sorted lists).
rules_of() { # file-json kind name [namespace]
    jq -S --arg k "$2" --arg n "$3" --arg ns "${4:-}" '
        [.[] | select(.kind==$k and .metadata.name==$n and ($ns=="" or .metadata.namespace==$ns))][0].rules
        | map({apiGroups: (.apiGroups|sort), resources: (.resources|sort), verbs: (.verbs|sort),
               resourceNames: ((.resourceNames // [])|sort)})
        | sort' "$1"
}
# The same without the Lease rules (the chart names its Lease, role.yaml cannot).
no_leases() { jq -S 'map(select(.resources != ["leases"]))'; }
# The Lease rules' verbs, merged, without names.
lease_verbs() { jq -c '[.[] | select(.resources == ["leases"]) | .verbs[]] | sort'; }
same() { # what a b
    if [ "$2" = "$3" ] && [ "$2" != null ]; then ok "$1"; else bad "$1"; diff <(echo "$2") <(echo "$3") | sed 's/^/       /' | head -30; fi
}

# Hardening every pod spec must have (chart and manifests alike).
hardened() { # name
    local n=$1
    check "$n: pod runs as non-root 65532, seccomp RuntimeDefault" q "$n" \
        "$dep | .spec.template.spec.securityContext | .runAsNonRoot==true and .runAsUser==65532 and .seccompProfile.type==\"RuntimeDefault\""
    check "$n: container read-only root, no privilege escalation, drops ALL" q "$n" \
        "$ctr | .securityContext | .readOnlyRootFilesystem==true and .allowPrivilegeEscalation==false and (.capabilities.drop|index(\"ALL\")!=null)"
    check "$n: probes on /live and /readyz (port http=9090)" q "$n" \
        "$ctr | .livenessProbe.httpGet.path==\"/live\" and .readinessProbe.httpGet.path==\"/readyz\" and .livenessProbe.httpGet.port==\"http\" and (.ports[]|select(.name==\"http\")|.containerPort)==9090"
    check "$n: resources set" q "$n" "$ctr | .resources.requests.memory and .resources.limits.memory"
    check "$n: topology spread over nodes" q "$n" \
        "$dep | .spec.template.spec.topologySpreadConstraints | map(.topologyKey) | index(\"kubernetes.io/hostname\") != null"
    check "$n: RELOADER_NAMESPACE (downward API) and RELOADER_DEPLOYMENT_NAME" q "$n" \
        "$ctr | (.env[]|select(.name==\"RELOADER_NAMESPACE\")|.valueFrom.fieldRef.fieldPath)==\"metadata.namespace\" and ([.env[].name]|index(\"RELOADER_DEPLOYMENT_NAME\")!=null)"
}
ha_pod() { # name replicas
    check "$1: $2 replicas, --enable-ha=true" q "$1" "$dep.spec.replicas==$2 and ($ctr | .args | index(\"--enable-ha=true\") != null)"
    check "$1: POD_NAME/POD_NAMESPACE from the downward API" q "$1" \
        "$ctr | [.env[] | select(.name==\"POD_NAME\" or .name==\"POD_NAMESPACE\") | .valueFrom.fieldRef.fieldPath] == [\"metadata.name\",\"metadata.namespace\"]"
    check "$1: PodDisruptionBudget minAvailable 1" q "$1" '[.[] | select(.kind=="PodDisruptionBudget") | .spec.minAvailable] == [1]'
}

echo "== helm lint ($("$helm" version --short 2>/dev/null))"
check "helm lint (default values)" "$helm" lint --strict "$chart"
check "helm lint (scoped, annotations strategy)" "$helm" lint --strict "$chart" \
    --set reloader.watchGlobally=false --set 'reloader.namespaces={default}' --set reloader.reloadStrategy=annotations
check "helm lint (single replica, no HA)" "$helm" lint --strict "$chart" \
    --set reloader.deployment.replicas=1 --set reloader.enableHA=false

echo "== helm template"
render default
hardened default
ha_pod default 2
check "default: ClusterRole, no namespaces rule, no rollouts" q default \
    '[.[] | select(.kind=="ClusterRole") | .rules[] | .resources[]] as $r | ($r|index("configmaps")!=null) and ($r|index("namespaces")==null) and ($r|index("rollouts")==null)'
check "default: own-namespace Role: Lease create, get/list/watch/update of its name; meta-info ConfigMap create, update by name" q default \
    '[.[] | select(.kind=="Role" and .metadata.name=="rl-reloader-metadata-role") | .rules[] | {r: .resources[0], v: (.verbs|sort), n: .resourceNames}] == [{r:"leases",v:["create"],n:null},{r:"leases",v:["get","list","update","watch"],n:["stakater-reloader-lock"]},{r:"configmaps",v:["create"],n:null},{r:"configmaps",v:["update"],n:["reloader-meta-info"]},{r:"configmaps",v:["list","watch"],n:null},{r:"configmaps",v:["patch"],n:[range(64) | "reloadd-state-\(if . < 10 then "0" else "" end)\(.)"]}]'
check "default: no verb reloadd never sends (update on apps, get on sources, patch on events, events.k8s.io)" q default \
    '[.[] | select(.kind=="ClusterRole") | .rules[]] as $r | ([$r[] | select(.apiGroups==["apps"]) | .verbs[]] | index("update") == null) and ([$r[] | select(.resources|index("configmaps") or index("secrets")) | .verbs[]] | index("get") == null) and ([$r[] | select(.resources|index("events")) | {g: .apiGroups, v: .verbs}] == [{g: [""], v: ["create"]}])'
render leasename --set reloadd.leaseName=my-lock
check "leasename: the Role names reloadd.leaseName" q leasename \
    '[.[] | select(.kind=="Role" and .metadata.name=="rl-reloader-metadata-role") | .rules[] | select(.resources==["leases"] and .resourceNames) | .resourceNames] == [["my-lock"]]'
render leasearg --set reloadd.leaseName=my-lock --set 'reloadd.extraArgs={--lease-name=from-args}'
check "leasearg: a --lease-name= in extraArgs (the last flag, so reloadd takes it) names the Role's Lease" q leasearg \
    '[.[] | select(.kind=="Role" and .metadata.name=="rl-reloader-metadata-role") | .rules[] | select(.resources==["leases"] and .resourceNames) | .resourceNames] == [["from-args"]]'
check "default: no Service (as Reloader's chart: reloader.service is {})" q default '[.[] | select(.kind=="Service")] == []'
check "default: no KUBERNETES_NAMESPACE (global mode)" no_env default KUBERNETES_NAMESPACE
check "default: service links off (flags are read from env vars too)" q default "$dep.spec.template.spec.enableServiceLinks==false"

# Reloader chart bug docs/reloader.md §7.3: replicas>1 without enableHA gave --enable-ha
# without POD_NAME (crash loop). Here HA and its env come together.
render replicas3 --set reloader.enableHA=false --set reloader.deployment.replicas=3
ha_pod replicas3 3
check "replicas3: the Lease rule is granted" q replicas3 \
    '[.[] | select(.kind=="Role") | .rules[] | .resources[]] | index("leases") != null'
render single --set reloader.enableHA=false --set reloader.deployment.replicas=1
check "single: POD_NAMESPACE still set (the workload state)" q single \
    "[$ctr | .env[] | select(.name==\"POD_NAMESPACE\") | .valueFrom.fieldRef.fieldPath] == [\"metadata.namespace\"]"
check "single: no --enable-ha, no POD_NAME, no PDB, no Lease rule" q single \
    "($ctr | (.args|index(\"--enable-ha=true\"))==null and ([.env[].name]|index(\"POD_NAME\"))==null) and ([.[]|select(.kind==\"PodDisruptionBudget\")]|length==0) and ([.[]|select(.kind==\"Role\")|.rules[]|.resources[]]|index(\"leases\")==null)"
check "single: maxUnavailable 1 (a single replica can roll)" q single "$dep.spec.strategy.rollingUpdate.maxUnavailable==1"

# Reloader chart bug docs/reloader.md §15.31: syncAfterRestart, enablePProf and webhookUrl
# were outside the args gate; webhookUrl needed custom_annotations.
render sync --set reloader.logLevel= --set reloader.syncAfterRestart=true --set reloader.reloadOnCreate=true
check "sync: --sync-after-restart=true and --reload-on-create=true (no other gate)" \
    q sync "$ctr | .args | index(\"--sync-after-restart=true\") != null and index(\"--reload-on-create=true\") != null"
render webhook --set reloader.webhookUrl=http://hook.example/x
check "webhook: --webhook-url without custom_annotations" has_arg webhook "--webhook-url=http://hook.example/x"
render pprof --set reloader.logLevel= --set reloader.enablePProf=true
check "pprof: --enable-pprof=true --pprof-addr=:6060 (accepted for compatibility; no pprof port)" q pprof \
    "$ctr | (.args|index(\"--enable-pprof=true\")!=null) and (.args|index(\"--pprof-addr=:6060\")!=null) and ([.ports[].containerPort] == [9090])"

# Reloader chart bug docs/reloader.md §15.31: ignoreJobs removed the jobs RBAC CronJob
# reloads need (they create Jobs).
render nojobs --set reloader.ignoreJobs=true
check "nojobs: --ignored-workload-types=jobs" has_arg nojobs --ignored-workload-types=jobs
check "nojobs: jobs create kept for CronJob reloads, nothing else on jobs" q nojobs \
    '[.[] | select(.kind=="ClusterRole") | .rules[] | select(.resources|index("jobs")) | .verbs] == [["create"]]'
render nobatch --set reloader.ignoreJobs=true --set reloader.ignoreCronJobs=true
check "nobatch: --ignored-workload-types=jobs,cronjobs and no batch RBAC" q nobatch \
    "($ctr | .args | index(\"--ignored-workload-types=jobs,cronjobs\") != null) and ([.[] | select(.kind==\"ClusterRole\") | .rules[] | .apiGroups[]] | index(\"batch\") == null)"

# Reloader chart bug docs/reloader.md §15.31: ignoreSecrets + ignoreConfigMaps was a runtime
# fatal; here it is a template error. Also other refusals.
refuses() { # what expected-message helm-args...
    local what=$1 msg=$2; shift 2
    local out
    if out=$("$helm" template rl "$chart" -n reloadd "$@" 2>&1); then
        bad "$what: rendered, want an error"
    elif grep -q -- "$msg" <<<"$out"; then ok "$what"
    else bad "$what: wrong error"; sed 's/^/       /' <<<"$out" | head -5; fi
}
refuses "ignoreSecrets+ignoreConfigMaps is a template error" "cannot both be true" \
    --set reloader.ignoreSecrets=true --set reloader.ignoreConfigMaps=true
refuses "namespaces with watchGlobally=true is a template error" "needs reloader.watchGlobally=false" \
    --set 'reloader.namespaces={a}'
refuses "an unknown reloadStrategy is refused" "reloadStrategy" --set reloader.reloadStrategy=restart
refuses "an unknown custom_annotations key is refused" "custom_annotations" --set reloader.custom_annotations.bogus=x

# Workload kinds by configuration (README): a ConfigMap mounted as
# --workload-kinds-file, its checksum on the pods, RBAC per declared kind.
kinds_json='[{"group":"serving.knative.dev","version":"v1","kind":"Service","plural":"services","template":"spec.template"},{"group":"apps.kruise.io","version":"v1alpha1","kind":"CloneSet","plural":"clonesets","rollout":"set-field","field":"spec.restartAt"}]'
render kinds --set-json "reloadd.workloadKinds=$kinds_json"
check "kinds: --workload-kinds-file of the mounted ConfigMap, its checksum on the pods" q kinds \
    "($ctr | (.args | index(\"--workload-kinds-file=/etc/reloadd/workload-kinds/workload-kinds.yaml\") != null) and ([.volumeMounts[] | select(.name==\"workload-kinds\" and .mountPath==\"/etc/reloadd/workload-kinds\" and .readOnly)] | length == 1)) and ($dep | .spec.template.spec.volumes[] | select(.name==\"workload-kinds\") | .configMap.name == \"rl-reloader-workload-kinds\") and ($dep | .spec.template.metadata.annotations[\"checksum/workload-kinds\"] | length == 64)"
check "kinds: get, list, watch, patch on each declared kind, update for patch-template only" q kinds \
    '[.[] | select(.kind=="ClusterRole") | .rules[] | select(.apiGroups[0] | test("knative|kruise")) | {g: .apiGroups, r: .resources, v: (.verbs|sort)}] == [{g:["serving.knative.dev"],r:["services"],v:["get","list","patch","update","watch"]},{g:["apps.kruise.io"],r:["clonesets"],v:["get","list","patch","watch"]}]'
check "default: no workload-kinds ConfigMap, flag or volume" q default \
    '([.[] | select(.kind=="ConfigMap")] | length == 0) and ([.[] | select(.kind=="Deployment") | .spec.template.spec.volumes[]?.name] | index("workload-kinds") == null)'
jq -r '.[] | select(.kind=="ConfigMap" and .metadata.name=="rl-reloader-workload-kinds") | .data["workload-kinds.yaml"]' \
    "$work/kinds.json" >"$work/workload-kinds.yaml"
if [ -x "${RELOADD_BIN:-$root/build/reloadd}" ]; then
    # reloadd parses the file before it looks for a cluster: exit 1 (no kubeconfig), not 2.
    check "kinds: reloadd accepts the rendered file" bash -c \
        "\"\$1\" --workload-kinds-file=\"\$2\" --kubeconfig=/nonexistent >/dev/null 2>&1; [ \$? -eq 1 ]" _ \
        "${RELOADD_BIN:-$root/build/reloadd}" "$work/workload-kinds.yaml"
fi
refuses "an unknown --cronjob-strategy is refused" "cronjobStrategy" --set reloadd.cronjobStrategy=later
refuses "an unknown key of a declared kind is refused" "additional properties" \
    --set-json 'reloadd.workloadKinds=[{"group":"g.example","version":"v1","kind":"K","plural":"ks","templat":"spec.template"}]'
refuses "an unknown rollout of a declared kind is refused" "rollout" \
    --set-json 'reloadd.workloadKinds=[{"group":"g.example","version":"v1","kind":"K","plural":"ks","rollout":"restart"}]'

render ignsec --set reloader.ignoreSecrets=true
check "ignsec: --resources-to-ignore=secrets, no secrets RBAC" q ignsec \
    "($ctr | .args | index(\"--resources-to-ignore=secrets\") != null) and ([.[] | select(.kind==\"ClusterRole\") | .rules[] | .resources[]] | index(\"secrets\") == null)"

# Scoped mode: a Role per namespace (release namespace + list, sorted), no
# ClusterRole, --namespaces.
render scoped --set reloader.watchGlobally=false --set 'reloader.namespaces={team-b,team-a,reloadd}' \
    --set reloader.namespaceSelector=x=y --set reloader.ignoreNamespaces=z
check "scoped: --namespaces=reloadd,team-a,team-b" has_arg scoped --namespaces=reloadd,team-a,team-b
check "scoped: no ClusterRole/ClusterRoleBinding" q scoped '[.[] | select(.kind|startswith("Cluster"))] | length == 0'
check "scoped: a watch Role and RoleBinding in each namespace" q scoped \
    '([.[] | select(.kind=="Role" and .metadata.name=="rl-reloader-role") | .metadata.namespace] | sort) == ["reloadd","team-a","team-b"] and ([.[] | select(.kind=="RoleBinding" and .metadata.name=="rl-reloader-role-binding") | .metadata.namespace] | sort) == ["reloadd","team-a","team-b"]'
check "scoped: namespace selector and ignore list not passed (global-mode options)" q scoped \
    "[$ctr | .args[] | select(startswith(\"--namespace-selector\") or startswith(\"--namespaces-to-ignore\"))] | length == 0"
check "scoped: no KUBERNETES_NAMESPACE (--namespaces wins)" no_env scoped KUBERNETES_NAMESPACE
render ownns --set reloader.watchGlobally=false
check "ownns: KUBERNETES_NAMESPACE from the downward API, no --namespaces" q ownns \
    "($ctr | (.env[]|select(.name==\"KUBERNETES_NAMESPACE\")|.valueFrom.fieldRef.fieldPath)==\"metadata.namespace\") and ([$ctr | .args[] | select(startswith(\"--namespaces=\"))] | length == 0)"
check "ownns: one watch Role, in the release namespace" q ownns \
    '[.[] | select(.kind=="Role" and .metadata.name=="rl-reloader-role") | .metadata.namespace] == ["reloadd"]'

# Everything on: each reloader.* value maps to its flag.
cat >"$work/full.values.yaml" <<'EOF'
global:
  imageRegistry: registry.example
  imagePullSecrets: [pull]
image:
  digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
reloader:
  autoReloadAll: true
  isArgoRollouts: true
  reloadOnCreate: true
  reloadOnDelete: true
  syncAfterRestart: true
  reloadStrategy: annotations
  ignoreNamespaces: [kube-system, kube-public]
  namespaceSelector: "team in (a,b),env"
  resourceLabelSelector: "reload=true"
  logFormat: json
  logLevel: debug
  enableCSIIntegration: true
  enableMetricsByNamespace: true
  webhookUrl: https://hook.example/x
  custom_annotations:
    configmap: my.io/cm-reload
    auto: my.io/auto
    pausePeriod: my.io/pause
  deployment:
    replicas: 3
    nodeSelector: {kubernetes.io/os: linux}
    tolerations: [{key: dedicated, operator: Exists}]
    affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]}]}}}
    resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 256Mi}}
    env:
      open: {ALERT_ON_RELOAD: "true"}
      secret: {ALERT_WEBHOOK_URL: https://alerts.example/x}
      field: {NODE_NAME: spec.nodeName}
      existing: {my-secret: {ALERT_ADDITIONAL_INFO: info}}
  serviceMonitor: {enabled: true}
  podMonitor: {enabled: true}
  netpol: {enabled: true}
reloadd:
  workers: 4
  kubeApiQps: 50
  coalesceWindow: 2s
  restartBudget: 0
  restartBudgetPeriod: 1h
  maxConcurrentRollouts: 5
  rolloutTimeout: 5m
  cronjobStrategy: template
  healthGate: true
  healthGateBatch: 2
  healthGateTimeout: 90s
  leaseName: my-lock
  dryRun: true
  extraArgs: [--kube-api-burst=80]
EOF
render full -f "$work/full.values.yaml" --api-versions monitoring.coreos.com/v1
for a in --auto-reload-all=true --is-Argo-Rollouts=true --reload-on-create=true --reload-on-delete=true \
         --sync-after-restart=true --reload-strategy=annotations --namespaces-to-ignore=kube-system,kube-public \
         "--namespace-selector=team in (a,b),env" --resource-label-selector=reload=true --log-format=json \
         --log-level=debug --enable-csi-integration=true --webhook-url=https://hook.example/x \
         --configmap-annotation=my.io/cm-reload --auto-annotation=my.io/auto \
         --pause-deployment-annotation=my.io/pause --enable-ha=true --workers=4 --kube-api-qps=50 \
         --coalesce-window=2s --lease-name=my-lock --dry-run=true --kube-api-burst=80 --metrics-addr=:9090 \
         --restart-budget=0 --restart-budget-period=1h --max-concurrent-rollouts=5 --rollout-timeout=5m \
         --cronjob-strategy=template --health-gate=true --health-gate-batch=2 \
         --health-gate-timeout=90s; do
    check "full: $a" has_arg full "$a"
done
check "full: image by digest from global.imageRegistry, pull secret" q full \
    "($ctr | .image) == \"registry.example/reloadd@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\" and $dep.spec.template.spec.imagePullSecrets == [{\"name\":\"pull\"}]"
check "full: nodeSelector, tolerations, affinity, resources passed through" q full \
    "$dep.spec.template.spec | .nodeSelector[\"kubernetes.io/os\"]==\"linux\" and .tolerations[0].key==\"dedicated\" and .affinity.nodeAffinity != null and .containers[0].resources.limits.memory==\"256Mi\""
check "full: env open/secret/field/existing, METRICS_COUNT_BY_NAMESPACE" q full \
    "$ctr | [.env[].name] as \$n | all(\"ALERT_ON_RELOAD\",\"ALERT_WEBHOOK_URL\",\"NODE_NAME\",\"ALERT_ADDITIONAL_INFO\",\"METRICS_COUNT_BY_NAMESPACE\"; . as \$x | \$n | index(\$x) != null)"
check "full: chart Secret holds env.secret; pod annotated with its checksum" q full \
    "([.[] | select(.kind==\"Secret\") | .stringData.ALERT_WEBHOOK_URL] == [\"https://alerts.example/x\"]) and ($dep.spec.template.metadata.annotations[\"checksum/secret\"] | length == 64)"
check "full: ServiceMonitor, PodMonitor, NetworkPolicy rendered" q full \
    '[.[] | .kind] as $k | ($k|index("ServiceMonitor")!=null) and ($k|index("PodMonitor")!=null) and ($k|index("NetworkPolicy")!=null)'
check "full: namespaces rule (selector), rollouts, CSI list/watch (enableCSIIntegration) in the ClusterRole" q full \
    '[.[] | select(.kind=="ClusterRole") | .rules[] | .resources[]] as $r | all("namespaces","rollouts"; . as $x | $r | index($x) != null) and ([.[] | select(.kind=="ClusterRole") | .rules[] | select(.apiGroups==["secrets-store.csi.x-k8s.io"])] == [{"apiGroups":["secrets-store.csi.x-k8s.io"],"resources":["secretproviderclasspodstatuses","secretproviderclasses"],"verbs":["list","watch"]}])'
check "full: the Lease rule names reloadd.leaseName" q full \
    '[.[] | select(.kind=="Role" and .metadata.name=="rl-reloader-metadata-role") | .rules[] | select(.resources==["leases"] and .resourceNames) | .resourceNames] == [["my-lock"]]'

# Drop-in for Stakater Reloader's chart: names, labels, selectors, every
# value of its values.yaml (tests/deploy/reloader-values.yaml), the schema.
. "$root/tests/deploy/drop-in.sh"

echo "== kustomize (deploy/kubernetes)"
kubectl_bin=$(command -v kubectl || true)
if [ -z "$kubectl_bin" ]; then
    skipped "kustomize checks: kubectl not on PATH"
else
    for k in default:deploy/kubernetes namespaced:deploy/kubernetes/namespaced monitoring:deploy/kubernetes/monitoring; do
        n=k-${k%%:*} d=${k#*:}
        if kubectl kustomize "$d" >"$work/$n.yaml" 2>"$work/$n.err"; then
            y2j <"$work/$n.yaml" >"$work/$n.json"; ok "kubectl kustomize $d"
        else
            bad "kubectl kustomize $d"; sed 's/^/       /' "$work/$n.err"; echo '[]' >"$work/$n.json"
        fi
    done
    hardened k-default
    ha_pod k-default 2
    check "k-default: everything in namespace reloadd (or cluster-scoped)" q k-default \
        '[.[] | select((.kind|test("^(Namespace|ClusterRole|ClusterRoleBinding)$")|not) and .metadata.namespace != "reloadd")] | length == 0'
    check "k-default: bindings name the reloadd ServiceAccount" q k-default \
        '[.[] | select(.kind|test("Binding$")) | .subjects] | all(. == [{"kind":"ServiceAccount","name":"reloadd","namespace":"reloadd"}])'
    check "k-namespaced: no cluster-scoped RBAC, --namespaces=default, watch Role in default" q k-namespaced \
        "([.[] | select(.kind|startswith(\"Cluster\"))] | length == 0) and ($ctr | .args | index(\"--namespaces=default\") != null) and ([.[] | select(.kind==\"Role\") | .metadata.namespace] | sort == [\"default\",\"reloadd\"])"
    check "k-monitoring: a ServiceMonitor selecting the metrics Service" q k-monitoring \
        '[.[] | select(.kind=="ServiceMonitor") | .spec.selector.matchLabels["app.kubernetes.io/component"]] == ["metrics"]'
    check "k-monitoring: the ServiceMonitor matches the Service's labels" jq -e -n \
        --slurpfile m "$work/k-monitoring.json" --slurpfile d "$work/k-default.json" \
        '($d[0][] | select(.kind=="Service") | .metadata.labels) as $l | ($m[0][0].spec.selector.matchLabels | to_entries | all($l[.key] == .value))'

    echo "== RBAC consistency"
    y2j <deploy/kubernetes/clusterrole.yaml >"$work/cr.json"
    y2j <deploy/kubernetes/role.yaml >"$work/role.json"
    static_cr=$(rules_of "$work/cr.json" ClusterRole reloadd)
    static_role=$(rules_of "$work/role.json" Role reloadd)
    same "chart (isArgoRollouts + namespaceSelector) ClusterRole = deploy/kubernetes/clusterrole.yaml" \
        "$(render rbacfull --set reloader.isArgoRollouts=true --set reloader.namespaceSelector=a=b >/dev/null; rules_of "$work/rbacfull.json" ClusterRole rl-reloader-role)" "$static_cr"
    same "chart own-namespace Role = deploy/kubernetes/role.yaml, Leases aside" \
        "$(rules_of "$work/default.json" Role rl-reloader-metadata-role | no_leases)" "$(no_leases <<<"$static_role")"
    same "chart Lease verbs = role.yaml's (the chart limits them to its Lease's name)" \
        "$(rules_of "$work/default.json" Role rl-reloader-metadata-role | lease_verbs)" "$(lease_verbs <<<"$static_role")"
    same "namespaced/role.yaml = role.yaml" "$(rules_of "$work/k-namespaced.json" Role reloadd reloadd)" "$static_role"
    same "namespaced/watch-role.yaml = clusterrole.yaml without namespaces" \
        "$(rules_of "$work/k-namespaced.json" Role reloadd-watch default)" \
        "$(jq -S 'map(.resources |= map(select(. != "namespaces"))) | sort' <<<"$static_cr")"
    same "kustomize output carries clusterrole.yaml and role.yaml unchanged" \
        "$(rules_of "$work/k-default.json" ClusterRole reloadd; rules_of "$work/k-default.json" Role reloadd)" "$(echo "$static_cr"; echo "$static_role")"
fi

echo "== flags known to the binary"
bin=${RELOADD_BIN:-$root/build/reloadd}
help=""
[ -x "$bin" ] && help=$("$bin" --help 2>&1)
if grep -q -- --enable-ha <<<"$help"; then
    for f in "$work"/*.json; do
        jq -r "$dep | .spec.template.spec.containers[0].args[]? | select(startswith(\"--\")) | sub(\"=.*\"; \"\")" "$f" 2>/dev/null
    done | sort -u >"$work/flags"
    while read -r f; do
        check "reloadd --help lists $f" grep -q -- "$f\b" <<<"$help"
    done <"$work/flags"
    # The README's tables name every flag --help lists, and no other.
    grep -oE '^\s+--[A-Za-z0-9-]+' <<<"$help" | tr -d ' ' | sort -u >"$work/help-flags"
    grep -oE '^\| `--[A-Za-z0-9-]+`|, `--[A-Za-z0-9-]+`' README.md | grep -oE -- '--[A-Za-z0-9-]+' | sort -u >"$work/readme-flags"
    same "README's flag tables and reloadd --help name the same flags" \
        "$(cat "$work/readme-flags")" "$(cat "$work/help-flags")"
else
    skipped "flag names: $bin --help lists no flags (binary missing or not yet complete)"
fi

echo "== one version everywhere"
release=$(tr -d ' \n' <VERSION)
check "VERSION ($release) is semver" grep -Eqx '[0-9]+\.[0-9]+\.[0-9]+' <<<"$release"
same "the chart's appVersion is VERSION" "$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' $chart/Chart.yaml)" "$release"
same "the chart's version is VERSION" "$(sed -n 's/^version: *//p' $chart/Chart.yaml)" "$release"
same "the kustomize image tag is VERSION" \
    "$(python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["images"][0]["newTag"])' deploy/kubernetes/base/kustomization.yaml)" "$release"
same "the Dockerfile's default VERSION is VERSION (both stages)" \
    "$(sed -n 's/^ARG VERSION=//p' Dockerfile | sort -u)" "$release"
same "the chart's image is localhost/reloadd:<appVersion> by default" \
    "$(jq -r "$dep | .spec.template.spec.containers[0].image" "$work/default.json")" "localhost/reloadd:$release"
if [ -x "$bin" ]; then
    check "reloadd --version is VERSION or a pre-release of it" \
        grep -Eqx "reloadd $release(-dev\.g[0-9a-f]+(\.dirty)?)?" <<<"$("$bin" --version)"
    same "reloadd --version is the version image.sh tags" "$("$bin" --version)" \
        "reloadd $(cmake -DSRC="$root" -DPRINT=1 -P cmake/version.cmake)"
fi

echo "== server dry-run"
if [ -z "${KUBECONFIG:-}" ] || [ -z "$kubectl_bin" ]; then
    skipped "server dry-run: no cluster (set KUBECONFIG, e.g. eval \"\$(tools/cluster up)\")"
else
    # The namespaces the objects go to must exist for a server dry-run.
    for ns in reloadd team-a team-b tools other; do
        if ! kubectl get namespace "$ns" >/dev/null 2>&1; then
            kubectl create namespace "$ns" >/dev/null && cleanup_ns+=("namespace/$ns")
        fi
    done
    dry() { kubectl apply --dry-run=server -f "$1"; }
    check "kubectl apply --dry-run=server: kubectl kustomize deploy/kubernetes" dry "$work/k-default.yaml"
    check "kubectl apply --dry-run=server: kubectl kustomize deploy/kubernetes/namespaced" dry "$work/k-namespaced.yaml"
    if grep -q servicemonitors <<<"$(kubectl api-resources --api-group=monitoring.coreos.com 2>/dev/null)"; then
        check "kubectl apply --dry-run=server: monitoring" dry "$work/k-monitoring.yaml"
    else
        skipped "monitoring/ server dry-run: no Prometheus Operator CRDs in this cluster"
    fi
    for n in default single replicas3 scoped ownns nojobs nobatch ignsec sync webhook pprof replicas0 netpolto netpolany plain nsovr; do
        check "kubectl apply --dry-run=server: helm template ($n)" dry "$work/$n.yaml"
    done
    # full renders Prometheus Operator objects; dry-run the rest.
    jq '[.[] | select(.kind != "ServiceMonitor" and .kind != "PodMonitor")] | {apiVersion: "v1", kind: "List", items: .}' \
        "$work/full.json" >"$work/full-core.json"
    check "kubectl apply --dry-run=server: helm template (full, without monitors)" dry "$work/full-core.json"
    # (without the dual-stack request: the test cluster serves IPv4 only)
    jq '[.[] | select(.kind != "ServiceMonitor" and .kind != "PodMonitor" and .kind != "VerticalPodAutoscaler")
         | if .kind == "Service" then del(.spec.ipFamilies, .spec.ipFamilyPolicy) else . end] | {apiVersion: "v1", kind: "List", items: .}' \
        "$work/reloader-all.json" >"$work/reloader-all-core.json"
    check "kubectl apply --dry-run=server: helm template (reloader-all, without monitors and VPA)" dry "$work/reloader-all-core.json"

    echo "== RBAC granted by deploy/kubernetes (applied for real)"
    # Only on a throw-away cluster from tools/cluster: this writes objects.
    if [ -z "${RELOADD_CLUSTER_DIR:-}" ]; then
        skipped "real RBAC apply and access reviews: not a tools/cluster cluster (RELOADD_CLUSTER_DIR unset)"
    else
    jq '[.[] | select(.kind|test("^(Namespace|ServiceAccount|ClusterRole|ClusterRoleBinding|Role|RoleBinding)$"))] | {apiVersion: "v1", kind: "List", items: .}' \
        "$work/k-default.json" >"$work/k-rbac.json"
    if kubectl apply -f "$work/k-rbac.json" >/dev/null; then
        ok "kubectl apply: the kustomize RBAC (ServiceAccount reloadd/reloadd)"
        sa=system:serviceaccount:reloadd:reloadd
        # A SubjectAccessReview per question (works for resources whose
        # API is not installed, e.g. Argo Rollouts, unlike `auth can-i`).
        can() { # expect verb resource[.group][/subresource] [namespace] [name]
            local res=${3%%.*} grp="" got want=false
            [ "$res" = "$3" ] || grp=${3#*.}
            [ "$1" = yes ] && want=true
            got=$(kubectl create -o jsonpath='{.status.allowed}' -f - <<JSON
{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
 "spec": {"user": "$sa", "groups": ["system:serviceaccounts", "system:serviceaccounts:reloadd", "system:authenticated"],
          "resourceAttributes": {"verb": "$2", "group": "$grp", "resource": "${res%%/*}",
                                 "subresource": "$(case $res in */*) echo "${res#*/}" ;; esac)", "namespace": "${4:-}",
                                 "name": "${5:-}"}}}
JSON
            )
            [ "${got:-false}" = "$want" ] || { echo "SubjectAccessReview $2 $3 ${4:+in $4} ${5:+named $5}: allowed=${got:-false}, want $want"; return 1; }
        }
        allowed=(
            "list configmaps" "watch configmaps" "list secrets" "watch secrets"
            "list namespaces" "watch namespaces"
            "get deployments.apps" "patch deployments.apps" "watch deployments.apps"
            "patch daemonsets.apps" "patch statefulsets.apps" "watch statefulsets.apps"
            "get cronjobs.batch" "watch cronjobs.batch" "patch cronjobs.batch"
            "get jobs.batch" "create jobs.batch" "patch jobs.batch" "delete jobs.batch" "watch jobs.batch"
            "get rollouts.argoproj.io" "patch rollouts.argoproj.io" "update rollouts.argoproj.io" "watch rollouts.argoproj.io"
            "create events"
        )
        for a in "${allowed[@]}"; do check "SA may $a (cluster-wide)" can yes $a; done
        for a in "create leases.coordination.k8s.io" "get leases.coordination.k8s.io" "update leases.coordination.k8s.io" \
                 "watch leases.coordination.k8s.io" "create configmaps"; do
            check "SA may $a in reloadd" can yes $a reloadd
        done
        check "SA may update configmaps reloader-meta-info in reloadd" can yes update configmaps reloadd reloader-meta-info
        check "SA may not update another configmap in reloadd" can no update configmaps reloadd other
        check "SA may patch configmaps reloadd-state-00 in reloadd" can yes patch configmaps reloadd reloadd-state-00
        check "SA may patch configmaps reloadd-state-63 in reloadd" can yes patch configmaps reloadd reloadd-state-63
        check "SA may not patch configmaps reloadd-state-64 in reloadd" can no patch configmaps reloadd reloadd-state-64
        check "SA may not patch another configmap in reloadd" can no patch configmaps reloadd other
        denied=(
            "get configmaps default" "get secrets default" "get namespaces"
            "update deployments.apps default" "update daemonsets.apps default" "update statefulsets.apps default"
            "patch events default" "create events.events.k8s.io default" "update configmaps reloadd"
            "create configmaps default" "update configmaps default" "delete configmaps default"
            "create secrets default" "update secrets default" "delete secrets reloadd" "create secrets reloadd"
            "delete deployments.apps default" "create deployments.apps default" "create pods default"
            "delete pods default" "update cronjobs.batch default" "create leases.coordination.k8s.io default"
            "delete leases.coordination.k8s.io reloadd" "delete configmaps reloadd" "get nodes" "list pods"
            "create namespaces" "escalate clusterroles.rbac.authorization.k8s.io" "create serviceaccounts/token reloadd"
            "impersonate users"
        )
        for a in "${denied[@]}"; do
            set -- $a
            check "SA may not $1 $2${3:+ in $3}" can no "$1" "$2" "${3:-}"
        done
    else
        bad "kubectl apply: the kustomize RBAC"
    fi
    fi
fi

echo
echo "deploy: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
