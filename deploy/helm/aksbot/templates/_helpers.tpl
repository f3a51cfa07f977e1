{{/* Chart name, overridable. */}}
{{- define "aksbot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: DNS labels are at most 63 characters. */}}
{{- define "aksbot.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "aksbot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "aksbot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aksbot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "aksbot.labels" -}}
helm.sh/chart: {{ include "aksbot.chart" . }}
{{ include "aksbot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "aksbot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aksbot.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret with the Slack tokens: the user's, or the chart's. */}}
{{- define "aksbot.secretName" -}}
{{- default (include "aksbot.fullname" .) .Values.slack.existingSecret }}
{{- end }}

{{- define "aksbot.claimName" -}}
{{- default (printf "%s-data" (include "aksbot.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}

{{/* "true" when the state lives in etcd (store.etcd.endpoints set), else empty. */}}
{{- define "aksbot.etcd" -}}
{{- if .Values.store.etcd.endpoints }}true{{ end }}
{{- end }}

{{/* Where the etcd TLS Secret is mounted; the config file names the files under it. */}}
{{- define "aksbot.etcdTLSDir" -}}
/etc/aksbot-etcd-tls
{{- end }}

{{/* The configuration file: values' config, plus store.etcd with etcd. */}}
{{- define "aksbot.configFile" -}}
{{- $cfg := deepCopy .Values.config }}
{{- if include "aksbot.etcd" . }}
{{- $e := .Values.store.etcd }}
{{- $etcd := dict "prefix" $e.prefix "leaseTTL" $e.leaseTTL "dialTimeout" $e.dialTimeout }}
{{- with $e.username }}
{{- $_ := set $etcd "username" . }}
{{- end }}
{{- if $e.tls.existingSecret }}
{{- $dir := include "aksbot.etcdTLSDir" . }}
{{- $_ := set $etcd "tls" (dict "ca" (printf "%s/ca.crt" $dir) "cert" (printf "%s/tls.crt" $dir) "key" (printf "%s/tls.key" $dir)) }}
{{- end }}
{{- $_ := set $cfg "store" (dict "etcd" $etcd) }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/* Refuses values that would deploy a broken bot; included by the Deployment. */}}
{{- define "aksbot.validate" -}}
{{- $replicas := int .Values.replicaCount }}
{{- if lt $replicas 0 }}
{{- fail (printf "replicaCount is %d: use 0 or more" $replicas) }}
{{- end }}
{{- if include "aksbot.etcd" . }}
{{- $e := .Values.store.etcd }}
{{- if lt (int .Values.terminationGracePeriodSeconds) 15 }}
{{- fail (printf "terminationGracePeriodSeconds is %v: with etcd use at least 15, so that the bot (which exits within 10 s of SIGTERM) can revoke its lease and another replica takes over at once" .Values.terminationGracePeriodSeconds) }}
{{- end }}
{{- if and $e.username (not $e.passwordSecret.name) }}
{{- fail "store.etcd.username is set but store.etcd.passwordSecret.name is empty: name the Secret holding the etcd password" }}
{{- end }}
{{- if and $e.passwordSecret.name (not $e.username) }}
{{- fail "store.etcd.passwordSecret.name is set but store.etcd.username is empty: etcd authenticates a user with the password" }}
{{- end }}
{{- else if gt $replicas 1 }}
{{- fail (printf "replicaCount is %d, but without store.etcd.endpoints the bot keeps its state in a bbolt data file that only one process can open: set store.etcd.endpoints to run several replicas, or use replicaCount 1" $replicas) }}
{{- end }}
{{- end }}
