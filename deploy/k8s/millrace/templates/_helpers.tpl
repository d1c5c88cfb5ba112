{{/* Names ---------------------------------------------------------------- */}}

{{- define "millrace.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "millrace.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* <fullname>-<component>; call with (dict "root" $ "name" "status") */}}
{{- define "millrace.componentName" -}}
{{- printf "%s-%s" (include "millrace.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "millrace.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "millrace.selectorLabels" -}}
app.kubernetes.io/name: {{ include "millrace.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "millrace.labels" -}}
helm.sh/chart: {{ include "millrace.chart" . }}
{{ include "millrace.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: millrace
{{- end -}}

{{/* (dict "root" $ "name" "status") */}}
{{- define "millrace.componentSelectorLabels" -}}
{{ include "millrace.selectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "millrace.componentLabels" -}}
{{ include "millrace.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "millrace.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "millrace.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "millrace.secretName" -}}
{{- default (include "millrace.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "millrace.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The jobs stream name: Topology.jobsStream (MILLRACE_JOBS, or <NS>_JOBS). */}}
{{- define "millrace.jobsStream" -}}
{{- if .Values.config.millraceNamespace -}}
{{- printf "%s_JOBS" (upper .Values.config.millraceNamespace) -}}
{{- else -}}
{{- .Values.keda.stream -}}
{{- end -}}
{{- end -}}

{{/* True (non-empty) when KEDA scales this service: (dict "root" $ "name" "trainer") */}}
{{- define "millrace.kedaScaled" -}}
{{- $svc := index .root.Values .name -}}
{{- if and .root.Values.keda.enabled $svc.keda $svc.keda.enabled -}}true{{- end -}}
{{- end -}}

{{/* True (non-empty) when an HPA or KEDA owns the replica count. */}}
{{- define "millrace.autoscaled" -}}
{{- $svc := index .root.Values .name -}}
{{- if or (include "millrace.kedaScaled" .) (and $svc.autoscaling $svc.autoscaling.enabled) -}}true{{- end -}}
{{- end -}}

{{/* Configuration ----------------------------------------------------------
The non-secret environment of one service, as YAML map entries. Every key is
a key of that service's configSchema. (dict "root" $ "name" "status") */}}
{{- define "millrace.configEnv" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $svc := index $root.Values $name -}}
{{- $full := include "millrace.fullname" $root -}}
NATS_URL: {{ $root.Values.nats.url | quote }}
LOG_LEVEL: {{ $root.Values.config.logLevel | quote }}
MILLRACE_NAMESPACE: {{ $root.Values.config.millraceNamespace | quote }}
STATUS_GRPC_ADDR: {{ printf "dns:///%s-status:%d" $full (int $root.Values.status.grpcPort) | quote }}
PREDICTOR_GRPC_ADDR: {{ printf "dns:///%s-predictor:%d" $full (int $root.Values.predictor.grpcPort) | quote }}
{{- if eq $name "scheduler" }}
# The scheduler listens on SCHEDULER_GRPC_ADDR; the others dial it.
SCHEDULER_GRPC_ADDR: {{ printf "0.0.0.0:%d" (int $svc.grpcPort) | quote }}
{{- else }}
SCHEDULER_GRPC_ADDR: {{ printf "dns:///%s-scheduler:%d" $full (int $root.Values.scheduler.grpcPort) | quote }}
{{- end }}
{{- if eq $name "gateway" }}
PORT: {{ int $svc.port | quote }}
HOST: "0.0.0.0"
{{- else }}
HEALTH_PORT: {{ int $svc.healthPort | quote }}
{{- if $svc.healthHttpGet }}
HEALTH_HOST: "0.0.0.0"
{{- end }}
{{- end }}
{{- if eq $name "status" }}
STATUS_LISTEN: {{ printf "0.0.0.0:%d" (int $svc.grpcPort) | quote }}
{{- end }}
{{- if eq $name "predictor" }}
PREDICTOR_LISTEN: {{ printf "0.0.0.0:%d" (int $svc.grpcPort) | quote }}
{{- end }}
{{- if has $name (list "status" "trainer" "predictor") }}
JOB_ACK_WAIT_MS: {{ int $root.Values.config.jobAckWaitMs | quote }}
{{- end }}
{{- range $k, $v := $svc.env }}
{{ $k }}: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{/* Secret environment: (dict "root" $ "name" "gateway") */}}
{{- define "millrace.secretEnv" -}}
{{- $root := .root -}}
{{- $secret := include "millrace.secretName" $root -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: database-url
- name: GRPC_SERVICE_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: grpc-service-token
{{- if $root.Values.nats.auth.enabled }}
- name: NATS_USER
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: nats-{{ .name }}-user
- name: NATS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: nats-{{ .name }}-password
{{- end }}
{{- if eq .name "gateway" }}
- name: JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: jwt-secret
      {{- if $root.Values.gateway.env.JWKS_URL }}
      optional: true
      {{- end }}
{{- end }}
{{- end -}}

{{/* Probes: (dict "root" $ "name" "status" "port" 8081 "httpGet" true) */}}
{{- define "millrace.probeAction" -}}
{{- if .httpGet -}}
httpGet:
  path: {{ .path }}
  port: {{ .port }}
{{- else -}}
exec:
  command: ["millrace-probe", {{ .port | int | toString | quote }}, {{ .path | quote }}]
{{- end -}}
{{- end -}}

{{- define "millrace.probes" -}}
{{- $svc := index .root.Values .name -}}
{{- $port := ternary $svc.port $svc.healthPort (eq .name "gateway") -}}
{{- $http := or (eq .name "gateway") $svc.healthHttpGet -}}
startupProbe:
  {{- include "millrace.probeAction" (dict "httpGet" $http "port" $port "path" "/healthz") | nindent 2 }}
  periodSeconds: 2
  timeoutSeconds: 5
  failureThreshold: 60
livenessProbe:
  {{- include "millrace.probeAction" (dict "httpGet" $http "port" $port "path" "/healthz") | nindent 2 }}
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 3
readinessProbe:
  {{- include "millrace.probeAction" (dict "httpGet" $http "port" $port "path" "/readyz") | nindent 2 }}
  periodSeconds: 5
  timeoutSeconds: 5
  failureThreshold: 2
{{- end -}}

{{/* One service's Deployment: (dict "root" $ "name" "status") */}}
{{- define "millrace.deployment" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $svc := index $root.Values $name -}}
{{- $ctx := dict "root" $root "name" $name -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "millrace.componentName" $ctx }}
  labels:
    {{- include "millrace.componentLabels" $ctx | nindent 4 }}
spec:
  {{- if not (include "millrace.autoscaled" $ctx) }}
  replicas: {{ $svc.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "millrace.componentSelectorLabels" $ctx | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "millrace.componentSelectorLabels" $ctx | nindent 8 }}
      annotations:
        # Roll the pods when their configuration changes.
        checksum/config: {{ include "millrace.configEnv" $ctx | sha256sum }}
        {{- with $root.Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "millrace.serviceAccountName" $root }}
      automountServiceAccountToken: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
      containers:
        - name: {{ $name }}
          image: {{ include "millrace.image" $root | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: [{{ $name | quote }}]
          envFrom:
            - configMapRef:
                name: {{ include "millrace.componentName" $ctx }}
          env:
            {{- include "millrace.secretEnv" $ctx | nindent 12 }}
          {{- if or (eq $name "gateway") $svc.grpcPort $svc.healthHttpGet }}
          ports:
            {{- if eq $name "gateway" }}
            - name: http
              containerPort: {{ $svc.port }}
              protocol: TCP
            {{- end }}
            {{- if $svc.grpcPort }}
            - name: grpc
              containerPort: {{ $svc.grpcPort }}
              protocol: TCP
            {{- end }}
            {{- if and $svc.healthPort $svc.healthHttpGet }}
            - name: health
              containerPort: {{ $svc.healthPort }}
              protocol: TCP
            {{- end }}
          {{- end }}
          {{- include "millrace.probes" $ctx | nindent 10 }}
          lifecycle:
            preStop:
              exec:
                command: ["sleep", {{ $root.Values.preStopSleepSeconds | int | toString | quote }}]
          resources:
            {{- toYaml $svc.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            # tsx's compile cache and any temporary files (the root filesystem is read-only).
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 1Gi
      {{- with $root.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if $root.Values.affinity }}
      affinity:
        {{- toYaml $root.Values.affinity | nindent 8 }}
      {{- else }}
      # Spread replicas over nodes when possible.
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels:
                    {{- include "millrace.componentSelectorLabels" $ctx | nindent 20 }}
      {{- end }}
{{- end -}}

{{/*
Headless Service for a gRPC service: (dict "root" $ "name" "status"). Its DNS
name lists every ready replica, and clients (dns:///<name>:<port>, round_robin
in GRPC_CHANNEL_OPTIONS) spread calls over them; a ClusterIP would pin each
client's one HTTP/2 connection to a single pod.
*/}}
{{- define "millrace.grpcService" -}}
{{- $svc := index .root.Values .name -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "millrace.componentName" . }}
  labels:
    {{- include "millrace.componentLabels" . | nindent 4 }}
spec:
  type: ClusterIP
  clusterIP: None
  selector:
    {{- include "millrace.componentSelectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ $svc.grpcPort }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
{{- end -}}

{{/* PodDisruptionBudget: (dict "root" $ "name" "status") */}}
{{- define "millrace.pdb" -}}
{{- $svc := index .root.Values .name -}}
{{- if $svc.pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "millrace.componentName" . }}
  labels:
    {{- include "millrace.componentLabels" . | nindent 4 }}
spec:
  maxUnavailable: {{ $svc.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "millrace.componentSelectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}

{{/* CPU HorizontalPodAutoscaler: (dict "root" $ "name" "gateway") */}}
{{- define "millrace.hpa" -}}
{{- $svc := index .root.Values .name -}}
{{- if and $svc.autoscaling.enabled (not (include "millrace.kedaScaled" .)) }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "millrace.componentName" . }}
  labels:
    {{- include "millrace.componentLabels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "millrace.componentName" . }}
  minReplicas: {{ $svc.autoscaling.minReplicas }}
  maxReplicas: {{ $svc.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $svc.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- end -}}

{{/* KEDA ScaledObject on the service's job consumers: (dict "root" $ "name" "trainer") */}}
{{- define "millrace.scaledObject" -}}
{{- $root := .root -}}
{{- $svc := index $root.Values .name -}}
{{- if include "millrace.kedaScaled" . }}
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ include "millrace.componentName" . }}
  labels:
    {{- include "millrace.componentLabels" . | nindent 4 }}
spec:
  scaleTargetRef:
    name: {{ include "millrace.componentName" . }}
  pollingInterval: {{ $root.Values.keda.pollingInterval }}
  cooldownPeriod: {{ $root.Values.keda.cooldownPeriod }}
  minReplicaCount: {{ $svc.keda.minReplicaCount }}
  maxReplicaCount: {{ $svc.keda.maxReplicaCount }}
  triggers:
    {{- range $consumer := required (printf "%s.keda.consumers is required" .name) $svc.keda.consumers }}
    - type: nats-jetstream
      metadata:
        natsServerMonitoringEndpoint: {{ $root.Values.nats.monitoringEndpoint | quote }}
        account: {{ $root.Values.nats.account | quote }}
        stream: {{ include "millrace.jobsStream" $root | quote }}
        consumer: {{ $consumer | quote }}
        lagThreshold: {{ $svc.keda.lagThreshold | toString | quote }}
        activationLagThreshold: {{ $svc.keda.activationLagThreshold | toString | quote }}
        useHttps: "false"
    {{- end }}
    {{- if and $svc.autoscaling $svc.autoscaling.enabled }}
    - type: cpu
      metricType: Utilization
      metadata:
        value: {{ $svc.autoscaling.targetCPUUtilizationPercentage | toString | quote }}
    {{- end }}
{{- end }}
{{- end -}}
