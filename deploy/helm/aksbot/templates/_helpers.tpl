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
{{- if .Values.aws.enabled }}
{{- $aws := dict "regions" .Values.aws.regions }}
{{- with include "aksbot.awsAccount" . }}
{{- $_ := set $aws "account" . }}
{{- end }}
{{- with .Values.aws.clusters }}
{{- $_ := set $aws "clusters" . }}
{{- end }}
{{- $_ := set $cfg "aws" $aws }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/* aws.account as 12 digits. An 11- or 12-digit number (unquoted in a values file, or from
--set) is written back with the leading zero YAML dropped; a shorter one is left as it is, for
the validation to refuse rather than to pad a typo. */}}
{{- define "aksbot.awsAccount" -}}
{{- $a := .Values.aws.account }}
{{- if kindIs "string" $a }}
{{- $a }}
{{- else if $a }}
{{- $n := float64 $a }}
{{- printf (ternary "%012.0f" "%.0f" (ge $n 1e10)) $n }}
{{- end }}
{{- end }}

{{/* Which AWS identity the pod uses: irsa, podIdentity, credentialsSecret, or empty (the SDK's
chain finds what it can, e.g. the node's instance role). Only with aws.enabled. */}}
{{- define "aksbot.awsIdentity" -}}
{{- $a := .Values.aws }}
{{- if $a.enabled }}
{{- if $a.irsa.roleArn }}irsa
{{- else if $a.podIdentity.enabled }}podIdentity
{{- else if $a.credentialsSecret.name }}credentialsSecret
{{- end }}
{{- end }}
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
{{- include "aksbot.validateAWS" . }}
{{- end }}

{{/* Refuses aws values that would leave the bot without the identity they ask for. */}}
{{- define "aksbot.validateAWS" -}}
{{- $a := .Values.aws }}
{{- /* Unknown keys fail, so a misspelt key does not silently drop an identity and no access key
     lands in a values file: the keys only ever come from a Secret. */}}
{{- $known := dict
  "aws" (list "enabled" "regions" "account" "clusters" "irsa" "podIdentity" "credentialsSecret")
  "aws.irsa" (list "roleArn" "stsRegionalEndpoints")
  "aws.podIdentity" (list "enabled" "clusterName" "roleArn")
  "aws.credentialsSecret" (list "name" "accessKeyIdKey" "secretAccessKeyKey") }}
{{- range $path, $keys := $known }}
{{- $m := $a }}
{{- if ne $path "aws" }}
{{- $m = index $a (trimPrefix "aws." $path) }}
{{- end }}
{{- if not (kindIs "map" $m) }}
{{- fail (printf "%s must be a map with the keys %s" $path (join ", " $keys)) }}
{{- end }}
{{- range $k, $_ := $m }}
{{- if not (has $k $keys) }}
{{- $hint := "" }}
{{- if regexMatch "(?i)secret|access.?key|token|password" $k }}
{{- $hint = ": access keys never go into values; put them in a Secret and name it in aws.credentialsSecret.name" }}
{{- end }}
{{- fail (printf "%s.%s is not a value of this chart (%s has %s)%s" $path $k $path (join ", " $keys) $hint) }}
{{- end }}
{{- end }}
{{- end }}

{{- $irsa := $a.irsa.roleArn }}
{{- $pi := $a.podIdentity.enabled }}
{{- $static := $a.credentialsSecret.name }}
{{- if not $a.enabled }}
{{- if or $irsa $pi $static }}
{{- fail "aws.irsa.roleArn, aws.podIdentity.enabled or aws.credentialsSecret.name is set but aws.enabled is false: set aws.enabled=true (with aws.regions) to use EKS, or clear them" }}
{{- end }}
{{- else }}
{{- if not $a.regions }}
{{- fail "aws.enabled is true but aws.regions is empty: list the regions the bot looks for EKS clusters in, e.g. [eu-west-1]" }}
{{- end }}
{{- if and $irsa $pi }}
{{- fail "aws.irsa.roleArn and aws.podIdentity.enabled are both set: use one AWS identity, IRSA (the ServiceAccount annotation) or EKS Pod Identity (an association made outside the chart)" }}
{{- end }}
{{- if and $static (or $irsa $pi) }}
{{- fail "aws.credentialsSecret.name is set together with aws.irsa.roleArn or aws.podIdentity.enabled: the AWS SDK would take the static keys first and never use the role; use one AWS identity" }}
{{- end }}
{{- $arn := "^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$" }}
{{- if $irsa }}
{{- if not (regexMatch $arn $irsa) }}
{{- fail (printf "aws.irsa.roleArn is %q: want an IAM role ARN, arn:aws:iam::ACCOUNT_ID:role/NAME" $irsa) }}
{{- end }}
{{- if not .Values.serviceAccount.create }}
{{- fail "aws.irsa.roleArn needs serviceAccount.create: the chart annotates the ServiceAccount it creates; with your own ServiceAccount, annotate it with eks.amazonaws.com/role-arn and leave aws.irsa.roleArn empty" }}
{{- end }}
{{- if hasKey .Values.serviceAccount.annotations "eks.amazonaws.com/role-arn" }}
{{- fail "serviceAccount.annotations has eks.amazonaws.com/role-arn and aws.irsa.roleArn is set: keep only aws.irsa.roleArn" }}
{{- end }}
{{- end }}
{{- if $pi }}
{{- with $a.podIdentity.roleArn }}
{{- if not (regexMatch $arn .) }}
{{- fail (printf "aws.podIdentity.roleArn is %q: want an IAM role ARN, arn:aws:iam::ACCOUNT_ID:role/NAME" .) }}
{{- end }}
{{- end }}
{{- if and (not .Values.serviceAccount.create) (not .Values.serviceAccount.name) }}
{{- fail "aws.podIdentity.enabled with serviceAccount.create false needs serviceAccount.name: the Pod Identity association names the ServiceAccount, and the namespace's default one should not carry the bot's role" }}
{{- end }}
{{- end }}
{{- $account := include "aksbot.awsAccount" . }}
{{- if and $account (not (regexMatch "^[0-9]{12}$" $account)) }}
{{- fail (printf "aws.account is %q: want the 12-digit AWS account ID, quoted (\"012345678901\")" $account) }}
{{- end }}
{{- if hasKey .Values.config "aws" }}
{{- fail "config.aws is set while aws.enabled is true: the chart writes the configuration's aws section from aws.regions, aws.account and aws.clusters; move it there" }}
{{- end }}
{{- end }}
{{- end }}
