# tests/deploy/drop-in.sh - sourced by tests/deploy/check.sh (uses its
# render/q/check/refuses helpers, $helm, $chart, $work, $dep, $ctr).
#
# A Stakater Reloader user swaps the chart and nothing of theirs breaks:
# reloadd's chart, rendered with tests/deploy/reloader-values.yaml (every key
# of Reloader's chart 2.2.16 values, non-default values), must give the
# object names, labels, selectors, Service and monitor fields that
# Reloader's chart 2.2.16 (app v1.4.21) gives for the same release and
# values. The expectations below are those facts, written out literally for
# release "rl" in namespace "reloadd" (they are not read from Reloader's
# files). Where reloadd differs on purpose, the assertion says so and
# deploy/README.md ("Defaults that differ") lists it.
[ -n "${chart:-}" ] || { echo "drop-in.sh is sourced by tests/deploy/check.sh" >&2; return 1 2>/dev/null || exit 1; }

echo "== drop-in for Reloader's chart 2.2.16 (tests/deploy/reloader-values.yaml)"
api=(--api-versions monitoring.coreos.com/v1 --api-versions autoscaling.k8s.io/v1 --api-versions argoproj.io/v1alpha1)
render reloader-all -f tests/deploy/reloader-values.yaml "${api[@]}"

# obj KIND NAME [NAMESPACE]: the one object of that kind and name.
obj() { echo "([.[] | select(.kind==\"$1\" and .metadata.name==\"$2\"${3:+ and .metadata.namespace==\"$3\"})] | if length==1 then .[0] else error(\"want one $1 $2, got \\(length)\") end)"; }
# Labels every object of Reloader's chart carries (the chart label is
# <chart>-<version>, so only its form is checked).
base='{"app":"rl-reloader","release":"rl","app.kubernetes.io/name":"reloader","app.kubernetes.io/instance":"rl","heritage":"Helm","app.kubernetes.io/managed-by":"Helm"}'
has_base() { echo "(.metadata.labels | contains($base) and (.chart | test(\"^[a-z]+-[0-9]\")) and .[\"helm.sh/chart\"] == .chart and (.[\"app.kubernetes.io/version\"] | length > 0))"; }
# A matchLabels selector matches a label map (every entry is present).
matches() { echo "(($2) as \$lab | ($1) | to_entries | all(.key as \$k | .value as \$v | \$lab[\$k] == \$v))"; }

D=$(obj Deployment rl-reloader reloadd)
check "reloader-all: objects named as Reloader's: Deployment, Secret, Service, NetworkPolicy, PDB, VPA rl-reloader in reloadd; monitors rl-reloader in monitoring; ServiceAccount reloader-sa" q reloader-all \
    "[.[] | select(.kind != \"Role\" and .kind != \"RoleBinding\") | [.kind, .metadata.name, (.metadata.namespace // \"\")]] | sort ==
     [[\"Deployment\",\"rl-reloader\",\"reloadd\"],[\"NetworkPolicy\",\"rl-reloader\",\"reloadd\"],[\"PodDisruptionBudget\",\"rl-reloader\",\"reloadd\"],
      [\"PodMonitor\",\"rl-reloader\",\"monitoring\"],[\"Secret\",\"rl-reloader\",\"reloadd\"],[\"Service\",\"rl-reloader\",\"reloadd\"],
      [\"ServiceAccount\",\"reloader-sa\",\"reloadd\"],[\"ServiceMonitor\",\"rl-reloader\",\"monitoring\"],[\"VerticalPodAutoscaler\",\"rl-reloader\",\"reloadd\"]]"
check "reloader-all: scoped RBAC named as Reloader's: Role/RoleBinding rl-reloader-role(-binding) in reloadd, team-a, team-b; rl-reloader-metadata-role(-binding) in reloadd" q reloader-all \
    '[.[] | select(.kind=="Role" or .kind=="RoleBinding") | [.kind, .metadata.name, .metadata.namespace]] | sort ==
     [["Role","rl-reloader-metadata-role","reloadd"],["Role","rl-reloader-role","reloadd"],["Role","rl-reloader-role","team-a"],["Role","rl-reloader-role","team-b"],
      ["RoleBinding","rl-reloader-metadata-role-binding","reloadd"],["RoleBinding","rl-reloader-role-binding","reloadd"],["RoleBinding","rl-reloader-role-binding","team-a"],["RoleBinding","rl-reloader-role-binding","team-b"]]'
check "reloader-all: RoleBindings bind Role rl-reloader-role / rl-reloader-metadata-role to ServiceAccount reloader-sa in reloadd" q reloader-all \
    '[.[] | select(.kind=="RoleBinding") | (.roleRef.name == (.metadata.name | sub("-binding$"; ""))) and (.roleRef.name | test("^rl-reloader-(metadata-)?role$")) and .subjects == [{"kind":"ServiceAccount","name":"reloader-sa","namespace":"reloadd"}]] | length == 4 and all'
check "reloader-all: RBAC objects carry the chart labels, rbac.labels and matchLabels" q reloader-all \
    "[.[] | select(.kind==\"Role\" or .kind==\"RoleBinding\") | $(has_base) and .metadata.labels[\"rbac-label\"]==\"yes\" and .metadata.labels.team==\"platform\"] | all"
check "reloader-all: Deployment selector is exactly app, release and matchLabels" q reloader-all \
    "$D.spec.selector.matchLabels == {\"app\":\"rl-reloader\",\"release\":\"rl\",\"team\":\"platform\"}"
check "reloader-all: Deployment and pod labels: chart labels, deployment.labels, matchLabels" q reloader-all \
    "[$D, $D.spec.template] | map($(has_base) and (.metadata.labels | contains({\"provider\":\"example\",\"group\":\"com.example.platform\",\"version\":\"v9.9.9\",\"team\":\"platform\"}))) | all"
check "reloader-all: Deployment annotations (deployment.annotations) and pod annotations (pod.annotations)" q reloader-all \
    "$D.metadata.annotations.owner == \"platform-team\" and $D.spec.template.metadata.annotations[\"example.io/scrape\"] == \"yes\""
check "reloader-all: replicas 3 (enableHA), revisionHistoryLimit 5, --enable-ha=true" q reloader-all \
    "$D.spec.replicas == 3 and $D.spec.revisionHistoryLimit == 5 and ($D.spec.template.spec.containers[0].args | index(\"--enable-ha=true\") != null)"
check "reloader-all: pod spec: hostUsers, runtimeClassName, schedulerName, priorityClassName, dnsConfig, automountServiceAccountToken, serviceAccountName" q reloader-all \
    "$D.spec.template.spec | .hostUsers == false and .runtimeClassName == \"gvisor\" and .schedulerName == \"my-scheduler\" and .priorityClassName == \"system-cluster-critical\"
      and .dnsConfig == {\"nameservers\":[\"10.0.0.10\"],\"searches\":[\"svc.cluster.example\"],\"options\":[{\"name\":\"ndots\",\"value\":\"2\"}]}
      and .automountServiceAccountToken == true and .serviceAccountName == \"reloader-sa\""
check "reloader-all: pod spec: imagePullSecrets (names and objects), nodeSelector, tolerations, affinity, topologySpreadConstraints as given" q reloader-all \
    "$D.spec.template.spec | .imagePullSecrets == [{\"name\":\"pull-a\"},{\"name\":\"pull-b\"}] and .nodeSelector == {\"kubernetes.io/os\":\"linux\"}
      and .tolerations == [{\"key\":\"dedicated\",\"operator\":\"Equal\",\"value\":\"infra\",\"effect\":\"NoSchedule\"}]
      and .affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key == \"node-role.example/infra\"
      and .topologySpreadConstraints == [{\"maxSkew\":1,\"topologyKey\":\"topology.kubernetes.io/zone\",\"whenUnsatisfiable\":\"DoNotSchedule\",\"labelSelector\":{\"matchLabels\":{\"app\":\"rl-reloader\"}}}]"
check "reloader-all: container named rl-reloader, image repository:tag, pullPolicy, port http 9090 (service.port is the Service's only)" q reloader-all \
    "$D.spec.template.spec.containers[0] | .name == \"rl-reloader\" and .image == \"registry.example/team/reloadd:v9.9.9\" and .imagePullPolicy == \"Always\"
      and ([.ports[] | {name, containerPort}] == [{\"name\":\"http\",\"containerPort\":9090}])"
check "reloader-all: securityContext (runAsUser 65534 as given), container: readOnlyRootFilesystem, drop ALL, no escalation" q reloader-all \
    "$D.spec.template.spec | .securityContext.runAsUser == 65534 and .securityContext.runAsNonRoot == true and (.containers[0].securityContext | .readOnlyRootFilesystem == true and .allowPrivilegeEscalation == false and .capabilities.drop == [\"ALL\"])"
check "reloader-all: volumes and volumeMounts as given (plus /tmp)" q reloader-all \
    "$D.spec.template.spec | (.volumes | index({\"name\":\"extra\",\"configMap\":{\"name\":\"extra\"}}) != null) and (.containers[0].volumeMounts | index({\"name\":\"extra\",\"mountPath\":\"/extra\",\"readOnly\":true}) != null) and ([.containers[0].volumeMounts[].mountPath] | any(startswith(\"/tmp\")))"
check "reloader-all: resources and probe timings as given" q reloader-all \
    "$D.spec.template.spec.containers[0] | .resources == {\"limits\":{\"cpu\":\"200m\",\"memory\":\"256Mi\"},\"requests\":{\"cpu\":\"20m\",\"memory\":\"64Mi\"}}
      and (.livenessProbe | .timeoutSeconds==6 and .failureThreshold==7 and .periodSeconds==11 and .successThreshold==1 and .initialDelaySeconds==12)
      and (.readinessProbe | .timeoutSeconds==16 and .failureThreshold==8 and .periodSeconds==13 and .successThreshold==2 and .initialDelaySeconds==14)"
check "reloader-all: env: open (empty skipped), secret (from Secret rl-reloader), existing, field, RELOADER_*, POD_*, METRICS_COUNT_BY_NAMESPACE; no KUBERNETES_NAMESPACE" q reloader-all \
    "$D.spec.template.spec.containers[0].env as \$e | (\$e | map({key: .name, value: .}) | from_entries) as \$m
      | \$m.OPEN_VAR.value == \"open-value\" and \$m.EMPTY_VAR == null and \$m.KUBERNETES_NAMESPACE == null
      and ([\"ALERT_ON_RELOAD\",\"ALERT_SINK\",\"ALERT_WEBHOOK_URL\",\"ALERT_ADDITIONAL_INFO\"] | all(. as \$k | \$m[\$k].valueFrom.secretKeyRef == {\"name\":\"rl-reloader\",\"key\":\$k}))
      and \$m.ALERT_CHANNEL.valueFrom.secretKeyRef == {\"name\":\"alert-secret\",\"key\":\"channel-key\"}
      and \$m.NODE_NAME.valueFrom.fieldRef.fieldPath == \"spec.nodeName\" and \$m.RELOADER_DEPLOYMENT_NAME.value == \"rl-reloader\"
      and \$m.RELOADER_NAMESPACE.valueFrom.fieldRef.fieldPath == \"metadata.namespace\" and \$m.POD_NAME.valueFrom.fieldRef.fieldPath == \"metadata.name\"
      and \$m.METRICS_COUNT_BY_NAMESPACE.value == \"enabled\""
for a in --log-format=json --log-level=debug --resources-to-ignore=secrets --ignored-workload-types=jobs,cronjobs \
         --namespaces=reloadd,team-a,team-b --resource-label-selector=reload=yes --pprof-addr=:6061 \
         --enable-csi-integration=true --configmap-annotation=my.io/configmap --secret-annotation=my.io/secret \
         --auto-annotation=my.io/auto --secret-auto-annotation=my.io/secret-auto \
         --configmap-auto-annotation=my.io/configmap-auto --auto-search-annotation=my.io/search \
         --search-match-annotation=my.io/match --ignore-annotation=my.io/ignore \
         --pause-deployment-annotation=my.io/pause-period --pause-deployment-time-annotation=my.io/pause-time \
         --webhook-url=https://hook.example/reload --is-Argo-Rollouts=true --reload-on-create=true \
         --reload-on-delete=true --sync-after-restart=true --reload-strategy=annotations --auto-reload-all=true; do
    check "reloader-all: $a" has_arg reloader-all "$a"
done
check "reloader-all: --enable-pprof" q reloader-all "$ctr | .args | any(. == \"--enable-pprof\" or . == \"--enable-pprof=true\")"

S=$(obj ServiceAccount reloader-sa reloadd)
check "reloader-all: ServiceAccount reloader-sa: labels (+ serviceAccount.labels, matchLabels), annotations, imagePullSecrets, automountServiceAccountToken false" q reloader-all \
    "$S | $(has_base) and .metadata.labels[\"sa-label\"]==\"yes\" and .metadata.labels.team==\"platform\" and .metadata.annotations[\"sa-annotation\"]==\"yes\"
      and .imagePullSecrets == [{\"name\":\"pull-a\"},{\"name\":\"pull-b\"}] and .automountServiceAccountToken == false"
check "reloader-all: Secret rl-reloader holds the four ALERT_* values" q reloader-all \
    "$(obj Secret rl-reloader reloadd) | ((.stringData // (.data | map_values(@base64d))) | with_entries(select(.key|startswith(\"ALERT_\")))) == {\"ALERT_ON_RELOAD\":\"true\",\"ALERT_SINK\":\"slack\",\"ALERT_WEBHOOK_URL\":\"https://hooks.example/x\",\"ALERT_ADDITIONAL_INFO\":\"cluster-a\"}"

V=$(obj Service rl-reloader reloadd)
check "reloader-all: Service rl-reloader: chart labels + service.labels, service.annotations" q reloader-all \
    "$V | $(has_base) and .metadata.labels[\"svc-label\"]==\"yes\" and .metadata.annotations[\"svc-annotation\"]==\"yes\""
check "reloader-all: Service ports exactly [{port 8080, name http, TCP, targetPort http}], ipFamilyPolicy, ipFamilies" q reloader-all \
    "$V.spec | .ports == [{\"port\":8080,\"name\":\"http\",\"protocol\":\"TCP\",\"targetPort\":\"http\"}] and .ipFamilyPolicy == \"PreferDualStack\" and .ipFamilies == [\"IPv4\",\"IPv6\"]"
check "reloader-all: Service selector holds Reloader's (deployment.labels + matchLabels) and selects the pods" q reloader-all \
    "($V.spec.selector | contains({\"provider\":\"example\",\"group\":\"com.example.platform\",\"version\":\"v9.9.9\",\"team\":\"platform\"})) and $(matches "$V.spec.selector" "$D.spec.template.metadata.labels")"

M=$(obj ServiceMonitor rl-reloader monitoring)
check "reloader-all: ServiceMonitor: labels (+ serviceMonitor.labels), annotations" q reloader-all \
    "$M | $(has_base) and .metadata.labels[\"sm-label\"]==\"yes\" and .metadata.annotations[\"sm-annotation\"]==\"yes\""
check "reloader-all: ServiceMonitor endpoints exactly Reloader's: targetPort http, path /metrics, interval, scheme, bearerTokenFile, tlsConfig, scrapeTimeout, honorLabels, relabelings" q reloader-all \
    "$M.spec.endpoints == [{\"targetPort\":\"http\",\"path\":\"/metrics\",\"interval\":\"15s\",\"scheme\":\"https\",\"bearerTokenFile\":\"/var/run/secrets/kubernetes.io/serviceaccount/token\",
      \"tlsConfig\":{\"insecureSkipVerify\":true},\"scrapeTimeout\":\"9s\",\"honorLabels\":false,
      \"metricRelabelings\":[{\"action\":\"keep\",\"regex\":\"reloader_.*\",\"sourceLabels\":[\"__name__\"]}],
      \"relabelings\":[{\"targetLabel\":\"cluster\",\"replacement\":\"a\",\"action\":\"replace\"}]}]"
check "reloader-all: ServiceMonitor jobLabel rl-reloader, targetLabels, namespaceSelector [reloadd], selector exactly {app, release}" q reloader-all \
    "$M.spec | .jobLabel == \"rl-reloader\" and .targetLabels == [\"svc-label\"] and .namespaceSelector == {\"matchNames\":[\"reloadd\"]} and .selector == {\"matchLabels\":{\"app\":\"rl-reloader\",\"release\":\"rl\"}}"
check "reloader-all: the ServiceMonitor selects the Service (job label = the Service's name, rl-reloader)" q reloader-all \
    "$(matches "$M.spec.selector.matchLabels" "$V.metadata.labels") and $V.metadata.name == \"rl-reloader\""

P=$(obj PodMonitor rl-reloader monitoring)
check "reloader-all: PodMonitor: labels (+ podMonitor.labels), annotations" q reloader-all \
    "$P | $(has_base) and .metadata.labels[\"pm-label\"]==\"yes\" and .metadata.annotations[\"pm-annotation\"]==\"yes\""
# Reloader's chart prints bearerTokenSecret with {{ . }} (a Go map string,
# "map[key:token name:scrape-token]", which the CRD rejects); reloadd
# renders the object.
check "reloader-all: PodMonitor endpoint: port http, path /metrics, interval, scheme, bearerTokenSecret (an object), tlsConfig, scrapeTimeout, honorLabels, relabelings" q reloader-all \
    "$P.spec.podMetricsEndpoints == [{\"port\":\"http\",\"path\":\"/metrics\",\"interval\":\"20s\",\"scheme\":\"https\",\"bearerTokenSecret\":{\"name\":\"scrape-token\",\"key\":\"token\"},
      \"tlsConfig\":{\"insecureSkipVerify\":true},\"scrapeTimeout\":\"8s\",\"honorLabels\":false,
      \"metricRelabelings\":[{\"action\":\"drop\",\"regex\":\"go_.*\",\"sourceLabels\":[\"__name__\"]}],
      \"relabelings\":[{\"targetLabel\":\"cluster\",\"replacement\":\"b\",\"action\":\"replace\"}]}]"
check "reloader-all: PodMonitor jobLabel rl-reloader, podTargetLabels, namespaceSelector [reloadd], selector exactly {app, release}, selecting the pods" q reloader-all \
    "($P.spec | .jobLabel == \"rl-reloader\" and .podTargetLabels == [\"team\"] and .namespaceSelector == {\"matchNames\":[\"reloadd\"]} and .selector == {\"matchLabels\":{\"app\":\"rl-reloader\",\"release\":\"rl\"}})
      and $(matches "$P.spec.selector.matchLabels" "$D.spec.template.metadata.labels")"

check "reloader-all: PDB rl-reloader: maxUnavailable 1 wins over minAvailable, selector exactly {app, release}" q reloader-all \
    "$(obj PodDisruptionBudget rl-reloader reloadd).spec == {\"maxUnavailable\":1,\"selector\":{\"matchLabels\":{\"app\":\"rl-reloader\",\"release\":\"rl\"}}}"

N=$(obj NetworkPolicy rl-reloader reloadd)
check "reloader-all: NetworkPolicy: labels (+ matchLabels), podSelector exactly {app, release, matchLabels}, ingress port http from netpol.from" q reloader-all \
    "$N | $(has_base) and .metadata.labels.team == \"platform\" and .spec.podSelector == {\"matchLabels\":{\"app\":\"rl-reloader\",\"release\":\"rl\",\"team\":\"platform\"}}
      and ([.spec.ingress[] | {ports: [.ports[].port], from}] == [{\"ports\":[\"http\"],\"from\":[{\"podSelector\":{\"matchLabels\":{\"app.kubernetes.io/name\":\"prometheus\"}}}]}])"
check "reloader-all: NetworkPolicy: 443 only to netpol.to's peers, no egress rule open to anywhere" q reloader-all \
    "$N.spec.egress | ([.[] | select(.ports | any(.port == 443)) | .to] == [[{\"ipBlock\":{\"cidr\":\"10.96.0.1/32\"}}]]) and all(.to | length > 0)"

A=$(obj VerticalPodAutoscaler rl-reloader reloadd)
check "reloader-all: VerticalPodAutoscaler: targetRef Deployment rl-reloader, container policy for container rl-reloader, every verticalPodAutoscaler value" q reloader-all \
    "$D.spec.template.spec.containers[0].name as \$cn | $A | $(has_base) and .spec.targetRef == {\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"name\":\"rl-reloader\"}
      and .spec.recommenders == [{\"name\":\"custom-recommender\"}] and .spec.updatePolicy == {\"minReplicas\":2,\"updateMode\":\"Initial\"}
      and .spec.resourcePolicy.containerPolicies == [{\"containerName\":\"rl-reloader\",\"controlledResources\":[\"memory\"],\"controlledValues\":\"RequestsOnly\",\"maxAllowed\":{\"memory\":\"1Gi\"},\"minAllowed\":{\"memory\":\"32Mi\"}}]
      and .spec.resourcePolicy.containerPolicies[0].containerName == \$cn"

# The same values in global mode: the cluster-wide objects' names.
render reloader-global -f tests/deploy/reloader-values.yaml "${api[@]}" --set reloader.watchGlobally=true \
    --set reloader.namespaces=null --set reloader.ignoreNamespaces=kube-system --set reloader.namespaceSelector=team=a
check "reloader-global: ClusterRole rl-reloader-role, ClusterRoleBinding rl-reloader-role-binding to reloader-sa, metadata Role/RoleBinding" q reloader-global \
    '([.[] | select(.kind|test("Role")) | [.kind, .metadata.name]] | sort) == [["ClusterRole","rl-reloader-role"],["ClusterRoleBinding","rl-reloader-role-binding"],["Role","rl-reloader-metadata-role"],["RoleBinding","rl-reloader-metadata-role-binding"]]
     and ([.[] | select(.kind=="ClusterRoleBinding")][0] | .roleRef.name == "rl-reloader-role" and .subjects == [{"kind":"ServiceAccount","name":"reloader-sa","namespace":"reloadd"}])'
check "reloader-global: --namespaces-to-ignore=kube-system, --namespace-selector=team=a, no --namespaces" q reloader-global \
    "$ctr | .args | index(\"--namespaces-to-ignore=kube-system\") != null and index(\"--namespace-selector=team=a\") != null and (map(select(startswith(\"--namespaces=\"))) | length == 0)"

# A plain install, as `helm install reloader <chart>` with no values.
if "$helm" template reloader "$chart" -n tools >"$work/plain.yaml" 2>"$work/plain.err"; then
    y2j <"$work/plain.yaml" >"$work/plain.json"; ok "helm template (plain, release reloader)"
else bad "helm template (plain)"; sed 's/^/       /' "$work/plain.err" | head; echo '[]' >"$work/plain.json"; fi
check "plain: release reloader gives reloader-reloader (no shortening), Deployment, ServiceAccount, ClusterRole reloader-reloader-role, ClusterRoleBinding reloader-reloader-role-binding" q plain \
    '[.[] | [.kind, .metadata.name]] as $o | [["Deployment","reloader-reloader"],["ServiceAccount","reloader-reloader"],["ClusterRole","reloader-reloader-role"],["ClusterRoleBinding","reloader-reloader-role-binding"]]
     | all(. as $w | $o | any(. == $w))'
check "plain: no Service (Reloader renders none by default)" q plain '[.[] | select(.kind=="Service")] == []'
check "plain: pods labelled app=reloader-reloader, release=reloader, and Reloader's default deployment.labels provider/group/version" q plain \
    '[.[] | select(.kind=="Deployment")][0].spec.template.metadata.labels | .app == "reloader-reloader" and .release == "reloader" and .provider == "stakater" and .group == "com.stakater.platform" and (.version | length > 0)'
check "plain: Deployment selector exactly {app: reloader-reloader, release: reloader}" q plain \
    '[.[] | select(.kind=="Deployment")][0].spec.selector.matchLabels == {"app":"reloader-reloader","release":"reloader"}'

render nameovr --set nameOverride=Relo
check "nameovr: nameOverride gives rl-Relo objects, app=rl-Relo, app.kubernetes.io/name=relo (lowercased)" q nameovr \
    "$dep | .metadata.name == \"rl-Relo\" and .spec.selector.matchLabels.app == \"rl-Relo\" and .metadata.labels[\"app.kubernetes.io/name\"] == \"relo\""
render fullovr --set fullnameOverride=my-reloader
check "fullovr: fullnameOverride names every object my-reloader (RBAC my-reloader-role, -metadata-role)" q fullovr \
    '([.[] | .metadata.name] | unique) == ["my-reloader","my-reloader-metadata-role","my-reloader-metadata-role-binding","my-reloader-role","my-reloader-role-binding"]'
render nsovr --set namespace=other
check "nsovr: namespace puts every namespaced object in it, bindings name the ServiceAccount there" q nsovr \
    '([.[] | select(.metadata.namespace) | .metadata.namespace] | unique) == ["other"] and ([.[] | select(.kind|test("Binding$")) | .subjects[0].namespace] | unique) == ["other"]'

# Values Reloader's chart takes that reloadd's refused or dropped before.
render replicas0 --set reloader.deployment.replicas=0
check "replicas0: replicas 0 renders (scaled to zero), no PDB" q replicas0 \
    "$dep.spec.replicas == 0 and ([.[] | select(.kind==\"PodDisruptionBudget\")] == [])"
render netpolto --set reloader.netpol.enabled=true --set-json 'reloader.netpol.to=[{"ipBlock":{"cidr":"172.18.0.2/32"}}]' \
    --set-json 'reloadd.netpolDnsTo=[]'
check "netpolto: egress is one rule, API ports 443 and 6443 to the ipBlock only (no DNS to anywhere)" q netpolto \
    '[.[] | select(.kind=="NetworkPolicy")][0].spec.egress == [{"ports":[{"port":443,"protocol":"TCP"},{"port":6443,"protocol":"TCP"}],"to":[{"ipBlock":{"cidr":"172.18.0.2/32"}}]}]'
render netpolany --set reloader.netpol.enabled=true
check "netpolany: without netpol.to, 443 to anywhere (as Reloader's chart)" q netpolany \
    '[.[] | select(.kind=="NetworkPolicy")][0].spec.egress | map(select(.ports | any(.port == 443))) | length == 1 and (.[0].to == null)'
render svcon --set reloader.service.port=8081
check "svcon: service.port is the Service's port only; the pod's stays 9090" q svcon \
    "([.[] | select(.kind==\"Service\")][0].spec.ports[0] | .port == 8081 and .targetPort == \"http\") and ($ctr | .ports[0].containerPort == 9090)"
render sanoauto --set reloader.serviceAccount.automountServiceAccountToken=false
check "sanoauto: serviceAccount.automountServiceAccountToken false on the ServiceAccount; the pod leaves it unset" q sanoauto \
    "([.[] | select(.kind==\"ServiceAccount\")][0].automountServiceAccountToken == false) and ($dep.spec.template.spec | has(\"automountServiceAccountToken\") | not)"

# The schema: unknown keys are refused with their path; Reloader keys reloadd
# cannot honour are refused with the reason.
refuses "schema: an unknown top-level key is refused" "additional properties 'bogus' not allowed" --set bogus=1
refuses "schema: an unknown key under reloader.deployment is refused, with its path" "at '/reloader/deployment': additional properties 'replica' not allowed" \
    --set reloader.deployment.replica=2
refuses "schema: an unknown key under reloader.serviceMonitor is refused" "at '/reloader/serviceMonitor': additional properties 'port' not allowed" \
    --set reloader.serviceMonitor.port=http
refuses "schema: reloader.isOpenshift=true is refused, saying why" "reloadd does not reload OpenShift DeploymentConfigs" --set reloader.isOpenshift=true
refuses "schema: reloader.deployment.gomaxprocsOverride is refused, saying why" "reloadd is not a Go program" --set reloader.deployment.gomaxprocsOverride=2
refuses "schema: reloader.deployment.gomemlimitOverride is refused, saying why" "reloadd is not a Go program" --set reloader.deployment.gomemlimitOverride=100MiB
refuses "schema: kubernetes.host other than the default is refused, saying why" "in-cluster configuration" --set kubernetes.host=https://api.example:6443
refuses "schema: reloader.legacy.rbac=true is refused, saying why" "does not use it either" --set reloader.legacy.rbac=true
refuses "schema: a bad ipFamilyPolicy is refused" "ipFamilyPolicy" --set reloader.service.ipFamilyPolicy=Dual
