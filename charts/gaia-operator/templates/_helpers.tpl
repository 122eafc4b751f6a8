{{/* The release's full name: "<release>-gaia-operator", or the release name when it already says gaia-operator. */}}
{{- define "gaia-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gaia-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gaia-operator.labels" -}}
{{ include "gaia-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: gaia
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "gaia-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gaia-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "gaia-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
What the operator does to a platform's children, in every namespace it watches (operator/src/controller):
informers list and watch every child kind it labels; server-side apply (patch) and create write them; pruning
and retainPolicy Delete remove them. Secrets are also read one by one (the user's referenced Secrets).
*/}}
{{- define "gaia-operator.rules" -}}
- apiGroups: ["gaia.dev"]
  resources: ["gaiaplatforms"]
  # watch them; patch adds and removes the finalizer
  verbs: ["list", "watch", "patch"]
- apiGroups: ["gaia.dev"]
  resources: ["gaiaplatforms/status"]
  verbs: ["patch"]
- apiGroups: ["gaia.dev"]
  # children's ownerReferences with blockOwnerDeletion
  resources: ["gaiaplatforms/finalizers"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["configmaps", "services", "serviceaccounts"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  # the kb volume is created once, never changed; retainPolicy Delete removes the claims
  resources: ["persistentvolumeclaims"]
  verbs: ["list", "watch", "create", "delete"]
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: ["batch"]
  # a migration Job is created once per image and never changed
  resources: ["jobs"]
  verbs: ["list", "watch", "create", "delete"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses", "networkpolicies"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: ["policy.linkerd.io"]
  resources: ["servers", "meshtlsauthentications", "authorizationpolicies"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create"]
{{- end -}}
