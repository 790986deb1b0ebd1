{{/*
The broker chart's own helpers. Labels, the Strimzi API (with its strimziAPIVersion check), the
cluster name (cluster.name) and ACL rules come from the library chart alert-distribution-lib
(adlib.*), as in every chart.
*/}}

{{/* Name of the secret holding the external listener's certificate. */}}
{{- define "asb.certSecret" -}}
{{- .Values.externalListener.tls.certManager.secretName | default (printf "%s-external-tls" (include "adlib.cluster" .)) -}}
{{- end -}}
