{{/* Labels shared by every resource of this chart. */}}
{{- define "asb.labels" -}}
app.kubernetes.io/name: alert-stream-broker
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: alert-distribution
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* The Strimzi API group/version: Strimzi 1.x serves only v1. */}}
{{- define "asb.api" -}}
{{- if ne (toString .Values.strimziAPIVersion) "v1" -}}
{{- fail (printf "strimziAPIVersion %q: Strimzi 1.0 removed every kafka.strimzi.io API but v1, and Strimzi 1.2 serves only kafka.strimzi.io/v1; set strimziAPIVersion: v1 (or delete the value) once the operator is 1.x (docs/operations.md, \"Upgrading Strimzi and Kafka\")" (toString .Values.strimziAPIVersion)) -}}
{{- end -}}
kafka.strimzi.io/v1
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
