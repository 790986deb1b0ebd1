{{/*
Names, labels and images. Every template reads the calling chart's own .Chart and .Values
(call with the chart's root context, `.` or `$`), so one definition serves every chart, also
inside the umbrella chart where all subcharts share one template namespace.
*/}}

{{/* The chart's name: nameOverride, else the chart's name. */}}
{{- define "adlib.name" -}}
{{- .Values.nameOverride | default .Chart.Name -}}
{{- end -}}

{{/*
Labels of every resource. app.kubernetes.io/version is the image tag (adlib.tag) of a chart with
an `image` value; the broker chart, whose images Strimzi chooses, has none and no version label.
*/}}
{{- define "adlib.labels" -}}
app.kubernetes.io/name: {{ include "adlib.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- if .Values.image }}
app.kubernetes.io/version: {{ include "adlib.tag" . | quote }}
{{- end }}
app.kubernetes.io/part-of: alert-distribution
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* Selector labels; call with (list $ "component"). */}}
{{- define "adlib.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ include "adlib.name" $ }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* The image tag: image.tag, else global.imageTag, else the chart's appVersion; never "latest". */}}
{{- define "adlib.tag" -}}
{{- $tag := .Values.image.tag | default ((.Values.global).imageTag) | default .Chart.AppVersion | toString -}}
{{- if or (eq $tag "latest") (eq $tag "") -}}
{{- fail (printf "%s: image.tag must name a release, not %q" .Chart.Name $tag) -}}
{{- end -}}
{{- $tag -}}
{{- end -}}

{{/* The image: [global.imageRegistry/]image.repository:adlib.tag. */}}
{{- define "adlib.image" -}}
{{- $registry := (.Values.global).imageRegistry | default "" -}}
{{- if $registry -}}{{ $registry }}/{{ end -}}{{ .Values.image.repository }}:{{ include "adlib.tag" . }}
{{- end -}}
