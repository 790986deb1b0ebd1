{{/*
Helpers shared by the service charts. The source is helm/_shared/_common.tpl; each chart holds a
copy with its own name prefix (scripts/deploy/sync-helpers.sh), since subcharts share one
template namespace inside the umbrella chart.
*/}}

{{- define "rproxy.name" -}}
{{- .Values.nameOverride | default .Chart.Name -}}
{{- end -}}

{{- define "rproxy.labels" -}}
app.kubernetes.io/name: {{ include "rproxy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "rproxy.tag" . | quote }}
app.kubernetes.io/part-of: alert-distribution
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* Selector labels; call with (list $ "component"). */}}
{{- define "rproxy.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ include "rproxy.name" $ }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* The image tag: values, else global.imageTag, else the chart's appVersion; never "latest". */}}
{{- define "rproxy.tag" -}}
{{- $tag := .Values.image.tag | default ((.Values.global).imageTag) | default .Chart.AppVersion | toString -}}
{{- if or (eq $tag "latest") (eq $tag "") -}}
{{- fail (printf "%s: image.tag must name a release, not %q" .Chart.Name $tag) -}}
{{- end -}}
{{- $tag -}}
{{- end -}}

{{- define "rproxy.image" -}}
{{- $registry := (.Values.global).imageRegistry | default "" -}}
{{- if $registry -}}{{ $registry }}/{{ end -}}{{ .Values.image.repository }}:{{ include "rproxy.tag" . }}
{{- end -}}

{{/* The Strimzi API of KafkaUser/KafkaTopic: Strimzi 1.x serves only v1. */}}
{{- define "rproxy.strimziApi" -}}
kafka.strimzi.io/v1
{{- end -}}

{{/* Strimzi cluster name: values, else global.kafkaClusterName. */}}
{{- define "rproxy.cluster" -}}
{{- .Values.kafka.clusterName | default ((.Values.global).kafkaClusterName) | default "alert-broker" -}}
{{- end -}}

{{/* In-cluster bootstrap address of the mTLS "internal" listener. */}}
{{- define "rproxy.bootstrap" -}}
{{- .Values.kafka.bootstrap | default (printf "%s-kafka-bootstrap:9092" (include "rproxy.cluster" .)) -}}
{{- end -}}

{{- define "rproxy.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "rproxy.containerSecurityContext" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Liveness on /healthz, readiness on /readyz, both on the named port "http". */}}
{{- define "rproxy.probes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  initialDelaySeconds: 5
  periodSeconds: 10
  failureThreshold: 6
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  periodSeconds: 5
  failureThreshold: 3
{{- end -}}

{{/*
A Job's hook annotations; arg: (list ARGOCD_HOOK WAVE). Argo CD runs it as a hook of that kind in
sync wave WAVE, deleting the previous Job first; under plain `helm install`/`helm upgrade` the
same Job is a post-install/post-upgrade hook with weight WAVE (so waves keep their order). Argo CD
uses its own annotations when both are present.
*/}}
{{- define "rproxy.jobHookAnnotations" -}}
argocd.argoproj.io/hook: {{ index . 0 }}
argocd.argoproj.io/hook-delete-policy: BeforeHookCreation
argocd.argoproj.io/sync-wave: {{ index . 1 | quote }}
helm.sh/hook: post-install,post-upgrade
helm.sh/hook-weight: {{ index . 1 | quote }}
helm.sh/hook-delete-policy: before-hook-creation
{{- end -}}

{{/* Prometheus scrape annotations for a pod serving /metrics on port (arg). */}}
{{- define "rproxy.scrapeAnnotations" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ . | quote }}
prometheus.io/path: /metrics
{{- end -}}

{{/* Volumes with a Strimzi KafkaUser's mTLS secret and the cluster CA; arg: (list $ user). */}}
{{- define "rproxy.kafkaTlsVolumes" -}}
{{- $ := index . 0 -}}
- name: kafka-user
  secret:
    secretName: {{ index . 1 }}
- name: kafka-cluster-ca
  secret:
    secretName: {{ include "rproxy.cluster" $ }}-cluster-ca-cert
{{- end -}}

{{- define "rproxy.kafkaTlsMounts" -}}
- name: kafka-user
  mountPath: /etc/kafka-user
  readOnly: true
- name: kafka-cluster-ca
  mountPath: /etc/kafka-cluster-ca
  readOnly: true
{{- end -}}

{{/* The three TLS flags every service shares, for the mounts above. */}}
{{- define "rproxy.kafkaTlsArgs" -}}
- --tls-client-key-location=/etc/kafka-user/user.key
- --tls-client-crt-location=/etc/kafka-user/user.crt
- --tls-server-ca-crt-location=/etc/kafka-cluster-ca/ca.crt
{{- end -}}

{{- define "rproxy.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* A Strimzi ACL rule: dict with type, name, patternType, operations. */}}
{{- define "rproxy.acl" -}}
- resource:
    type: {{ .type }}
    {{- if .name }}
    name: {{ .name | quote }}
    patternType: {{ .patternType }}
    {{- end }}
  operations: {{ toJson .operations }}
  host: "*"
{{- end -}}
