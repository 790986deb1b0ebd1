{{/* Pods: hardening, probes, scheduling, scrape and hook annotations. */}}

{{- define "adlib.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "adlib.containerSecurityContext" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Liveness on /healthz, readiness on /readyz, both on the named port "http". */}}
{{- define "adlib.probes" -}}
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
{{- define "adlib.jobHookAnnotations" -}}
argocd.argoproj.io/hook: {{ index . 0 }}
argocd.argoproj.io/hook-delete-policy: BeforeHookCreation
argocd.argoproj.io/sync-wave: {{ index . 1 | quote }}
helm.sh/hook: post-install,post-upgrade
helm.sh/hook-weight: {{ index . 1 | quote }}
helm.sh/hook-delete-policy: before-hook-creation
{{- end -}}

{{/* Prometheus scrape annotations for a pod serving /metrics on port (arg). */}}
{{- define "adlib.scrapeAnnotations" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ . | quote }}
prometheus.io/path: /metrics
{{- end -}}

{{/* nodeSelector, tolerations and affinity from the values of the same names. */}}
{{- define "adlib.scheduling" -}}
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
