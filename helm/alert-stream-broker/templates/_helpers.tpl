{{/* Labels shared by every resource of this chart. */}}
{{- define "asb.labels" -}}
app.kubernetes.io/name: alert-stream-broker
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: alert-distribution
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* The Strimzi API group/version. */}}
{{- define "asb.api" -}}
kafka.strimzi.io/{{ .Values.strimziAPIVersion }}
{{- end -}}

{{/* Name of the secret holding the external listener's certificate. */}}
{{- define "asb.certSecret" -}}
{{- .Values.externalListener.tls.certManager.secretName | default (printf "%s-external-tls" (include "asb.cluster" .)) -}}
{{- end -}}

{{/* A Strimzi ACL rule: dict with type, name, patternType, operations. */}}
{{- define "asb.acl" -}}
- resource:
    type: {{ .type }}
    {{- if .name }}
    name: {{ .name | quote }}
    patternType: {{ .patternType }}
    {{- end }}
  operations: {{ toJson .operations }}
  host: "*"
{{- end -}}

{{/* The Strimzi cluster name: cluster.name, else global.kafkaClusterName. */}}
{{- define "asb.cluster" -}}
{{- .Values.cluster.name | default ((.Values.global).kafkaClusterName) | default "alert-broker" -}}
{{- end -}}
