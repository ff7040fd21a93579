{{/* Names and labels: the same as Stakater Reloader's chart renders for the
     same release and values (deploy/README.md, "Migrating from Reloader"),
     so that selectors, NetworkPolicies, monitors and alerts written for it
     keep matching. The name is "reloader" (not the chart's name), lowercased;
     the full name is always <release>-<name> unless fullnameOverride. */}}
{{- define "reloadd.name" -}}
{{- default "reloader" .Values.nameOverride | trunc 63 | trimSuffix "-" | lower -}}
{{- end -}}

{{- define "reloadd.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (default "reloader" .Values.nameOverride) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The namespace of every namespaced object: `namespace`, else the release's. */}}
{{- define "reloadd.namespace" -}}
{{- default .Release.Namespace .Values.namespace -}}
{{- end -}}

{{/* The selector: app and release (Deployment, NetworkPolicy, Service and
     topology spread add reloader.matchLabels; the monitors and the PDB do
     not). */}}
{{- define "reloadd.selectorLabels" -}}
app: {{ include "reloadd.fullname" . }}
release: {{ .Release.Name | quote }}
{{- end -}}

{{/* reloader.matchLabels, rendered through tpl (as Reloader's chart does). */}}
{{- define "reloadd.matchLabels" -}}
{{- with .Values.reloader.matchLabels }}
{{- tpl (toYaml .) $ }}
{{- end }}
{{- end -}}

{{- define "reloadd.labels" -}}
{{ include "reloadd.selectorLabels" . }}
app.kubernetes.io/name: {{ include "reloadd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | quote }}
chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | quote }}
heritage: {{ .Release.Service | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* The release annotations Reloader's chart puts on its objects (Helm sets
     the same on install). */}}
{{- define "reloadd.helmAnnotations" -}}
meta.helm.sh/release-namespace: {{ .Release.Namespace | quote }}
meta.helm.sh/release-name: {{ .Release.Name | quote }}
{{- end -}}

{{/* A map value rendered through tpl, or nothing. Argument: list $ map. */}}
{{- define "reloadd.tplMap" -}}
{{- $root := index . 0 -}}
{{- with index . 1 }}
{{- tpl (toYaml .) $root }}
{{- end }}
{{- end -}}

{{/* labels and annotations of the RBAC objects and the ServiceAccount's
     base (Reloader's chart: its labels, rbac.labels, matchLabels). */}}
{{- define "reloadd.rbacMeta" -}}
labels:
  {{- include "reloadd.labels" . | nindent 2 }}
  {{- include "reloadd.tplMap" (list . .Values.reloader.rbac.labels) | nindent 2 }}
  {{- include "reloadd.matchLabels" . | nindent 2 }}
annotations:
  {{- include "reloadd.helmAnnotations" . | nindent 2 }}
{{- end -}}

{{/* global.imagePullSecrets (names or {name: ...}) as a list of objects. */}}
{{- define "reloadd.imagePullSecrets" -}}
{{- range . }}
{{- if kindIs "map" . }}
- {{ toYaml . | nindent 2 | trim }}
{{- else }}
- name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "reloadd.serviceAccountName" -}}
{{- if .Values.reloader.serviceAccount.create -}}
{{- default (include "reloadd.fullname" .) .Values.reloader.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.reloader.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "reloadd.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- $repo := .Values.image.repository -}}
{{- if .Values.global.imageRegistry -}}
{{- $repo = printf "%s/%s" (trimSuffix "/" .Values.global.imageRegistry) .Values.image.name -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}
{{- end -}}

{{/* A value given as a list or as a comma-separated string, as a list. */}}
{{- define "reloadd.list" -}}
{{- $out := list -}}
{{- if kindIs "slice" . -}}
{{- range . }}{{ if toString . }}{{ $out = append $out (toString . | trim) }}{{ end }}{{ end -}}
{{- else if . -}}
{{- range (splitList "," (toString .)) }}{{ if trim . }}{{ $out = append $out (trim .) }}{{ end }}{{ end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* "true" when leader election is on: enableHA, or more than one replica
     (which would otherwise run two writers). POD_NAME/POD_NAMESPACE are
     injected whenever it is on. */}}
{{- define "reloadd.ha" -}}
{{- if or .Values.reloader.enableHA (gt (int .Values.reloader.deployment.replicas) 1) -}}true{{- end -}}
{{- end -}}

{{/* The leader Lease's name, as the pod will have it: the last --lease-name=
     of reloadd.extraArgs, else reloadd.leaseName, else reloadd's default.
     The Role limits the Lease verbs to it. */}}
{{- define "reloadd.leaseName" -}}
{{- $name := default "stakater-reloader-lock" (toString (default "" .Values.reloadd.leaseName)) -}}
{{- range .Values.reloadd.extraArgs -}}
{{- if hasPrefix "--lease-name=" (toString .) -}}
{{- $name = trimPrefix "--lease-name=" (toString .) -}}
{{- end -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{/* Scoped mode namespaces: the release namespace plus reloader.namespaces,
     de-duplicated and sorted (as Reloader's chart). Empty list when none. */}}
{{- define "reloadd.scopedNamespaces" -}}
{{- $ns := include "reloadd.list" .Values.reloader.namespaces | fromJsonArray -}}
{{- if $ns -}}
{{- toJson (append $ns (include "reloadd.namespace" .) | uniq | sortAlpha) -}}
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{/* The namespaces whose objects reloadd watches and writes, when it does
     not watch globally. */}}
{{- define "reloadd.watchNamespaces" -}}
{{- $ns := include "reloadd.scopedNamespaces" . | fromJsonArray -}}
{{- if $ns -}}{{ toJson $ns }}{{- else -}}{{ toJson (list (include "reloadd.namespace" .)) }}{{- end -}}
{{- end -}}

{{/* RBAC rules for the watched objects: exactly what reloadd reads and
     writes with the options in use (patch on workloads also records the
     applied hashes on the object). Argument: dict "root" $ "global" bool.
     Unlike Reloader's chart, ignoreJobs keeps `create` on jobs while
     CronJobs are reloaded (a CronJob reload creates a Job). */}}
{{- define "reloadd.watchRules" -}}
{{- $r := .root.Values.reloader -}}
{{- $core := list -}}
{{- if not $r.ignoreConfigMaps }}{{ $core = append $core "configmaps" }}{{ end -}}
{{- if not $r.ignoreSecrets }}{{ $core = append $core "secrets" }}{{ end -}}
{{- if and .global $r.namespaceSelector }}{{ $core = append $core "namespaces" }}{{ end }}
- apiGroups: [""]
  resources: {{ toJson $core }}
  verbs: [list, watch]
- apiGroups: [apps]
  resources: [deployments, daemonsets, statefulsets]
  verbs: [get, list, watch, patch]
{{- if not $r.ignoreCronJobs }}
- apiGroups: [batch]
  resources: [cronjobs]
  verbs: [get, list, watch, patch]
{{- end }}
{{- if not $r.ignoreJobs }}
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, delete, patch]
{{- else if not $r.ignoreCronJobs }}
- apiGroups: [batch]
  resources: [jobs]
  verbs: [create]
{{- end }}
{{- if $r.isArgoRollouts }}
- apiGroups: [argoproj.io]
  resources: [rollouts]
  verbs: [get, list, watch, patch, update]
{{- end }}
{{- if $r.enableCSIIntegration }}
- apiGroups: [secrets-store.csi.x-k8s.io]
  resources: [secretproviderclasspodstatuses, secretproviderclasses]
  verbs: [list, watch]
{{- end }}
{{- /* Declared kinds: update is patch-template's PUT; patch the record and set-field. */}}
{{- range .root.Values.reloadd.workloadKinds }}
- apiGroups: [{{ .group | quote }}]
  resources: [{{ .plural | quote }}]
  verbs: [get, list, watch, patch{{ if ne (default "patch-template" .rollout) "set-field" }}, update{{ end }}]
{{- end }}
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end -}}

{{/* Settings the chart refuses rather than render a pod that crash-loops. */}}
{{- define "reloadd.validate" -}}
{{- $r := .Values.reloader -}}
{{- if and $r.ignoreSecrets $r.ignoreConfigMaps -}}
{{- fail "reloader.ignoreSecrets and reloader.ignoreConfigMaps cannot both be true: reloadd would watch nothing (--resources-to-ignore takes one of configmaps, secrets)" -}}
{{- end -}}
{{- if and $r.watchGlobally (include "reloadd.list" $r.namespaces | fromJsonArray) -}}
{{- fail "reloader.namespaces needs reloader.watchGlobally=false" -}}
{{- end -}}
{{- if not (has (toString $r.reloadStrategy) (list "default" "env-vars" "annotations")) -}}
{{- fail (printf "reloader.reloadStrategy must be one of default, env-vars, annotations (got %q)" (toString $r.reloadStrategy)) -}}
{{- end -}}
{{- end -}}
