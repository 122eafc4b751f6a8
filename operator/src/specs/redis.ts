import type { V1Service, V1StatefulSet } from "@kubernetes/client-node";
import type { GaiaPlatform } from "../api/types.ts";
import { childMeta, childName, labels, selectorLabels } from "./labels.ts";
import type { Manifest } from "./manifest.ts";
import { podMeshAnnotations } from "./mesh.ts";
import { DATASTORE_PORTS } from "./ports.ts";
import {
  containerResources,
  containerSecurityContext,
  dataVolumeClaim,
  podSecurityContext,
  serviceAccount,
  serviceAccountName,
} from "./workload.ts";

/** The managed Redis: one StatefulSet pod with an append-only file on its volume, behind a headless Service. */

/** The redis image's own user. */
const REDIS_UID = 999;

export function redisHost(platform: GaiaPlatform): string {
  return childName(platform, "redis");
}

export function redis(platform: GaiaPlatform): Manifest[] {
  const managed = platform.spec.redis.managed;
  if (!managed) return [];
  const name = childName(platform, "redis");
  const port = DATASTORE_PORTS.redis;
  const ping = ["redis-cli", "-p", String(port), "ping"];
  const service: V1Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: childMeta(platform, "redis", "redis", "cache"),
    spec: {
      clusterIP: "None",
      selector: selectorLabels(platform, "redis"),
      ports: [{ name: "redis", port, targetPort: "redis", protocol: "TCP" }],
    },
  };
  const statefulSet: V1StatefulSet = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: childMeta(platform, "redis", "redis", "cache"),
    spec: {
      serviceName: name,
      replicas: managed.replicas,
      selector: { matchLabels: selectorLabels(platform, "redis") },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
      template: {
        metadata: { labels: labels(platform, "redis", "cache"), annotations: podMeshAnnotations(platform) },
        spec: {
          serviceAccountName: serviceAccountName(platform, "redis"),
          automountServiceAccountToken: false,
          // Service links would inject e.g. GAIA_GATEWAY_PORT=tcp://..., which clashes with Gaia's own settings.
          enableServiceLinks: false,
          securityContext: podSecurityContext(REDIS_UID),
          containers: [
            {
              name: "redis",
              image: `redis:${managed.version}`,
              // Rate limits and sessions survive a restart through the append-only file.
              args: ["--appendonly", "yes", "--dir", "/data", "--port", String(port)],
              ports: [{ name: "redis", containerPort: port, protocol: "TCP" }],
              readinessProbe: { exec: { command: ping }, periodSeconds: 5, failureThreshold: 3 },
              livenessProbe: {
                exec: { command: ping },
                initialDelaySeconds: 15,
                periodSeconds: 10,
                failureThreshold: 6,
              },
              resources: containerResources(managed.resources),
              securityContext: containerSecurityContext(true),
              volumeMounts: [{ name: "data", mountPath: "/data" }],
            },
          ],
        },
      },
      volumeClaimTemplates: [
        dataVolumeClaim(platform, "redis", "cache", managed.storage, managed.storageClassName),
      ],
    },
  };
  return [serviceAccount(platform, "redis", "cache"), service, statefulSet];
}
