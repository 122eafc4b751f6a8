import type { GaiaPlatform } from "../api/types.ts";
import { datastoreStatefulSet, headlessService } from "./datastore.ts";
import { childName } from "./labels.ts";
import type { Manifest } from "./manifest.ts";
import { podMeshAnnotations } from "./mesh.ts";
import { DATASTORE_PORTS } from "./ports.ts";
import { containerResources, containerSecurityContext, serviceAccount } from "./workload.ts";

/** The managed Redis: one StatefulSet pod with an append-only file on its volume, behind a headless Service. */

/** The redis image's own user. */
const REDIS_UID = 999;

export function redisHost(platform: GaiaPlatform): string {
  return childName(platform, "redis");
}

export function redis(platform: GaiaPlatform): Manifest[] {
  const managed = platform.spec.redis.managed;
  if (!managed) return [];
  const port = DATASTORE_PORTS.redis;
  const ping = ["redis-cli", "-p", String(port), "ping"];
  const service = headlessService(platform, "redis", "cache", {
    ports: [{ name: "redis", port, targetPort: "redis", protocol: "TCP" }],
  });
  const statefulSet = datastoreStatefulSet(platform, {
    name: "redis",
    component: "cache",
    serviceName: childName(platform, "redis"),
    replicas: managed.replicas,
    podAnnotations: podMeshAnnotations(platform),
    uid: REDIS_UID,
    container: {
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
    storage: managed.storage,
    storageClassName: managed.storageClassName,
  });
  return [serviceAccount(platform, "redis", "cache"), service, statefulSet];
}
