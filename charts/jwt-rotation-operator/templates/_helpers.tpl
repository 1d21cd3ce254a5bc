{{/* Name of the chart, or nameOverride. */}}
{{- define "jwt-rotation-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name, prefixed to the chart name unless it already contains it. */}}
{{- define "jwt-rotation-operator.fullname" -}}
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

{{- define "jwt-rotation-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "jwt-rotation-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jwt-rotation-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "jwt-rotation-operator.labels" -}}
helm.sh/chart: {{ include "jwt-rotation-operator.chart" . }}
{{ include "jwt-rotation-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: jwt-rotation-operator
{{- end }}

{{- define "jwt-rotation-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "jwt-rotation-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The watched namespaces (watchNamespace, then watchNamespaces, without repeats) as a JSON array; [] for all. */}}
{{- define "jwt-rotation-operator.watchNamespaces" -}}
{{- prepend .Values.watchNamespaces .Values.watchNamespace | compact | uniq | toJson }}
{{- end }}

{{/*
The admission policies' bindings: with watched namespaces set, they apply in those only, where this
release acts (and another release, or a test, may keep its own rules elsewhere); otherwise everywhere.
*/}}
{{- define "jwt-rotation-operator.admissionScope" -}}
{{- $namespaces := include "jwt-rotation-operator.watchNamespaces" . | fromJsonArray }}
{{- if $namespaces -}}
matchResources:
  namespaceSelector:
    matchExpressions:
      - key: kubernetes.io/metadata.name
        operator: In
        values: {{ toJson $namespaces }}
{{- end }}
{{- end }}

{{/* The issuer server: its name, and labels that never match the operator's selector (another app name). */}}
{{- define "jwt-rotation-operator.issuerFullname" -}}
{{- printf "%s-issuer" (include "jwt-rotation-operator.fullname" . | trunc 56 | trimSuffix "-") }}
{{- end }}

{{- define "jwt-rotation-operator.issuerSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-issuer" (include "jwt-rotation-operator.name" . | trunc 56 | trimSuffix "-") }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "jwt-rotation-operator.issuerLabels" -}}
helm.sh/chart: {{ include "jwt-rotation-operator.chart" . }}
{{ include "jwt-rotation-operator.issuerSelectorLabels" . }}
app.kubernetes.io/component: issuer
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: jwt-rotation-operator
{{- end }}

{{- define "jwt-rotation-operator.issuerServiceAccountName" -}}
{{- if .Values.issuer.serviceAccount.create }}
{{- default (include "jwt-rotation-operator.issuerFullname" .) .Values.issuer.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.issuer.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "jwt-rotation-operator.issuerTlsSecret" -}}
{{- default (printf "%s-tls" (include "jwt-rotation-operator.issuerFullname" .)) .Values.issuer.tls.secretName }}
{{- end }}

{{/*
The V8 heap limit in MiB: heapLimitPercent of resources.limits.memory (Ki, Mi, Gi, K, M, G or bytes);
empty without a memory limit or with heapLimitPercent 0.
*/}}
{{- define "jwt-rotation-operator.heapMiB" -}}
{{- $limit := toString (dig "limits" "memory" "" (.Values.resources | default dict)) -}}
{{- $percent := int (.Values.heapLimitPercent | default 0) -}}
{{- if and $limit (gt $percent 0) -}}
{{- $mib := 0 -}}
{{- if hasSuffix "Gi" $limit -}}{{- $mib = mul (trimSuffix "Gi" $limit | int64) 1024 -}}
{{- else if hasSuffix "Mi" $limit -}}{{- $mib = trimSuffix "Mi" $limit | int64 -}}
{{- else if hasSuffix "Ki" $limit -}}{{- $mib = div (trimSuffix "Ki" $limit | int64) 1024 -}}
{{- else if hasSuffix "G" $limit -}}{{- $mib = div (mul (trimSuffix "G" $limit | int64) 1000000000) 1048576 -}}
{{- else if hasSuffix "M" $limit -}}{{- $mib = div (mul (trimSuffix "M" $limit | int64) 1000000) 1048576 -}}
{{- else if hasSuffix "K" $limit -}}{{- $mib = div (mul (trimSuffix "K" $limit | int64) 1000) 1048576 -}}
{{- else -}}{{- $mib = div ($limit | int64) 1048576 -}}
{{- end -}}
{{- $heap := div (mul $mib $percent) 100 -}}
{{- if gt $heap 0 -}}{{- $heap -}}{{- end -}}
{{- end -}}
{{- end }}
