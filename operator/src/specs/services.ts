import { METRICS_PORT, SERVICE_PORTS } from "@gaia/kit/registry";
import type { V1Deployment, V1Service, V1Volume } from "@kubernetes/client-node";
import { type GaiaPlatform, SERVICE_NAMES, type ServiceName } from "../api/types.ts";
import { assetVolume } from "./asset.ts";
import { configMapName, DATA_DIR } from "./configmap.ts";
import { serviceEnv } from "./env.ts";
import { kbVolume } from "./kb.ts";
import {
  ANNOTATION_CONFIG_CHECKSUM,
  type Component,
  childMeta,
  labels,
  selectorLabels,
  versionLabel,
} from "./labels.ts";
import type { Manifest } from "./manifest.ts";
import { podMeshAnnotations } from "./mesh.ts";
import {
  containerResources,
  containerSecurityContext,
  GAIA_UID,
  imagePullSecrets,
  podSecurityContext,
  serviceAccount,
  serviceAccountName,
} from "./workload.ts";

/**
 * Prometheus's conventional scrape annotations, pointing at the metrics port: no Service exposes that port, so
 * metrics are reachable pod to pod (as the NetworkPolicies allow) and never through the gateway or an Ingress.
 */
const PROMETHEUS_ANNOTATIONS = {
  "prometheus.io/scrape": "true",
  "prometheus.io/port": String(METRICS_PORT),
  "prometheus.io/path": "/metrics",
};

/** The six services: a ServiceAccount, a Service and a Deployment each, all running `gaia serve <name>`. */

export function serviceComponent(service: ServiceName): Component {
  if (service === "gateway") return "gateway";
  if (service === "web") return "frontend";
  return "backend";
}

/** What the services' pods need from the rest of the reconcile. */
export interface ServicesInput {
  /** The image the services run: the last one whose migration succeeded. Without one, no Deployment yet. */
  image?: string;
  /** Digest of the ConfigMap and Secret data the pods consume; a change rolls them. */
  configChecksum: string;
}

function autoscaled(platform: GaiaPlatform, service: ServiceName): boolean {
  return platform.spec.services[service].autoscaling?.enabled === true;
}

/** What a service's pods mount at GAIA_DATA_DIR: kb's and asset's volume, an emptyDir for the others. */
function dataVolume(platform: GaiaPlatform, name: ServiceName): V1Volume {
  if (name === "kb") return kbVolume(platform);
  if (name === "asset") return assetVolume(platform);
  return { name: "data", emptyDir: {} };
}

function service(platform: GaiaPlatform, name: ServiceName): V1Service {
  const exposure = name === "gateway" || name === "web" ? platform.spec.exposure[name] : undefined;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: childMeta(platform, name, name, serviceComponent(name), exposure?.annotations),
    spec: {
      type: exposure?.serviceType ?? "ClusterIP",
      selector: selectorLabels(platform, name),
      ports: [{ name: "http", port: SERVICE_PORTS[name], targetPort: "http", protocol: "TCP" }],
    },
  };
}

function deployment(
  platform: GaiaPlatform,
  name: ServiceName,
  image: string,
  configChecksum: string,
): V1Deployment {
  const spec = platform.spec.services[name];
  const tag = image.slice(image.lastIndexOf(":") + 1);
  const podLabels = { ...labels(platform, name, serviceComponent(name)), ...versionLabel(tag) };
  const data = dataVolume(platform, name);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { ...childMeta(platform, name, name, serviceComponent(name)), labels: podLabels },
    spec: {
      // While an autoscaler owns the replica count, the operator leaves the field alone instead of fighting it.
      ...(autoscaled(platform, name) ? {} : { replicas: spec.replicas }),
      revisionHistoryLimit: 5,
      selector: { matchLabels: selectorLabels(platform, name) },
      // A ReadWriteOnce volume cannot be attached to the old and the new pod at once.
      ...(data.persistentVolumeClaim ? { strategy: { type: "Recreate" } } : {}),
      template: {
        metadata: {
          labels: podLabels,
          annotations: {
            ...podMeshAnnotations(platform),
            ...PROMETHEUS_ANNOTATIONS,
            [ANNOTATION_CONFIG_CHECKSUM]: configChecksum,
          },
        },
        spec: {
          serviceAccountName: serviceAccountName(platform, name),
          automountServiceAccountToken: false,
          // Service links would inject e.g. GAIA_GATEWAY_PORT=tcp://..., which clashes with Gaia's own settings.
          enableServiceLinks: false,
          securityContext: podSecurityContext(GAIA_UID),
          ...imagePullSecrets(platform),
          containers: [
            {
              name,
              image,
              imagePullPolicy: platform.spec.image.pullPolicy,
              command: ["gaia", "serve", name],
              ports: [
                { name: "http", containerPort: SERVICE_PORTS[name], protocol: "TCP" },
                { name: "metrics", containerPort: METRICS_PORT, protocol: "TCP" },
              ],
              envFrom: [{ configMapRef: { name: configMapName(platform) } }],
              env: serviceEnv(platform, name),
              readinessProbe: {
                httpGet: { path: "/ready", port: "http" },
                periodSeconds: 5,
                failureThreshold: 3,
              },
              livenessProbe: {
                httpGet: { path: "/health", port: "http" },
                initialDelaySeconds: 10,
                periodSeconds: 10,
                failureThreshold: 3,
              },
              resources: containerResources(spec.resources),
              securityContext: containerSecurityContext(true),
              volumeMounts: [
                { name: "tmp", mountPath: "/tmp" },
                { name: "data", mountPath: DATA_DIR },
              ],
            },
          ],
          volumes: [{ name: "tmp", emptyDir: {} }, data],
        },
      },
    },
  };
}

export function services(platform: GaiaPlatform, input: ServicesInput): Manifest[] {
  return SERVICE_NAMES.flatMap((name) => [
    serviceAccount(platform, name, serviceComponent(name)),
    service(platform, name),
    ...(input.image ? [deployment(platform, name, input.image, input.configChecksum)] : []),
  ]);
}
