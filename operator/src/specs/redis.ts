import {
  passwordVariable,
  REDIS_PROBE_USER,
  REDIS_USERS,
  type RedisUser,
  redisUserArgs,
} from "@gaia/kit/datastores";
import type { V1EnvVar } from "@kubernetes/client-node";
import type { GaiaPlatform } from "../api/types.ts";
import { datastoreStatefulSet, headlessService } from "./datastore.ts";
import { childName } from "./labels.ts";
import type { Manifest } from "./manifest.ts";
import { podMeshAnnotations } from "./mesh.ts";
import { DATASTORE_PORTS } from "./ports.ts";
import { redisSecretName } from "./secrets.ts";
import { containerResources, containerSecurityContext, serviceAccount } from "./workload.ts";

/**
 * The managed Redis: one StatefulSet pod with an append-only file on its volume, behind a headless Service. Each
 * service has an ACL user of its own (kit/src/datastores.ts); the default user is off.
 */

/** The redis image's own user. */
const REDIS_UID = 999;

export function redisHost(platform: GaiaPlatform): string {
  return childName(platform, "redis");
}

/** Each user's password from the generated Secret; the ACL arguments name them as $(VAR), expanded by Kubernetes. */
function passwordEnv(platform: GaiaPlatform): V1EnvVar[] {
  const fromSecret = (name: string, user: RedisUser): V1EnvVar => ({
    name,
    valueFrom: { secretKeyRef: { name: redisSecretName(platform), key: user } },
  });
  return [
    ...REDIS_USERS.map((user) => fromSecret(passwordVariable("redis", user), user)),
    // redis-cli reads its password from here, so the probes authenticate without one on their command line.
    fromSecret("REDISCLI_AUTH", REDIS_PROBE_USER),
  ];
}

export function redis(platform: GaiaPlatform): Manifest[] {
  const managed = platform.spec.redis.managed;
  if (!managed) return [];
  const port = DATASTORE_PORTS.redis;
  // redis-cli exits 0 on an error reply (NOAUTH, LOADING): only a PONG is healthy.
  const ping = ["sh", "-c", `redis-cli -p ${port} --user ${REDIS_PROBE_USER} ping | grep -qx PONG`];
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
      args: [
        "--appendonly",
        "yes",
        "--dir",
        "/data",
        "--port",
        String(port),
        ...redisUserArgs((user) => `$(${passwordVariable("redis", user)})`),
      ],
      env: passwordEnv(platform),
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
