{{/* Strimzi resources and Kafka clients. */}}

{{/*
The Strimzi API of every kafka.strimzi.io resource: Strimzi 1.x serves only v1. A chart with a
strimziAPIVersion value (the broker, and the registry whose operator reads it) refuses any other.
*/}}
{{- define "adlib.strimziApi" -}}
{{- if and (hasKey .Values "strimziAPIVersion") (ne (toString .Values.strimziAPIVersion) "v1") -}}
{{- fail (printf "strimziAPIVersion %q: Strimzi 1.0 removed every kafka.strimzi.io API but v1, and Strimzi 1.2 serves only kafka.strimzi.io/v1; set strimziAPIVersion: v1 (or delete the value) once the operator is 1.x (docs/operations.md, \"Upgrading Strimzi and Kafka\")" (toString .Values.strimziAPIVersion)) -}}
{{- end -}}
kafka.strimzi.io/v1
{{- end -}}

{{/*
The Strimzi cluster name: the chart's own value (cluster.name in the broker chart that creates
the cluster, kafka.clusterName in the charts that connect to it), else global.kafkaClusterName,
else alert-broker.
*/}}
{{- define "adlib.cluster" -}}
{{- (.Values.cluster).name | default (.Values.kafka).clusterName | default ((.Values.global).kafkaClusterName) | default "alert-broker" -}}
{{- end -}}

{{/* In-cluster bootstrap address of the mTLS "internal" listener: kafka.bootstrap, else derived. */}}
{{- define "adlib.bootstrap" -}}
{{- .Values.kafka.bootstrap | default (printf "%s-kafka-bootstrap:9092" (include "adlib.cluster" .)) -}}
{{- end -}}

{{/* A Strimzi ACL rule: dict with type, name, patternType, operations. */}}
{{- define "adlib.acl" -}}
- resource:
    type: {{ .type }}
    {{- if .name }}
    name: {{ .name | quote }}
    patternType: {{ .patternType }}
    {{- end }}
  operations: {{ toJson .operations }}
  host: "*"
{{- end -}}

{{/* Volumes with a Strimzi KafkaUser's mTLS secret and the cluster CA; arg: (list $ user). */}}
{{- define "adlib.kafkaTlsVolumes" -}}
{{- $ := index . 0 -}}
- name: kafka-user
  secret:
    secretName: {{ index . 1 }}
- name: kafka-cluster-ca
  secret:
    secretName: {{ include "adlib.cluster" $ }}-cluster-ca-cert
{{- end -}}

{{- define "adlib.kafkaTlsMounts" -}}
- name: kafka-user
  mountPath: /etc/kafka-user
  readOnly: true
- name: kafka-cluster-ca
  mountPath: /etc/kafka-cluster-ca
  readOnly: true
{{- end -}}

{{/* The three TLS flags every service shares, for the mounts above. */}}
{{- define "adlib.kafkaTlsArgs" -}}
- --tls-client-key-location=/etc/kafka-user/user.key
- --tls-client-crt-location=/etc/kafka-user/user.crt
- --tls-server-ca-crt-location=/etc/kafka-cluster-ca/ca.crt
{{- end -}}
