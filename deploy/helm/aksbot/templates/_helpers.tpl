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
