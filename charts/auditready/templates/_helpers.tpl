{{/* Every object's name: "<release>-operator" unless fullnameOverride says otherwise. */}}
{{- define "auditready.fullname" -}}
{{- default (printf "%s-operator" .Release.Name) .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "auditready.selectorLabels" -}}
app.kubernetes.io/name: auditready-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "auditready.labels" -}}
{{ include "auditready.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
