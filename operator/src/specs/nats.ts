import {
  NATS_GAME_SERVER_USER,
  NATS_USERS,
  type NatsUser,
  natsAuthorization,
  passwordVariable,
} from "@gaia/kit/datastores";
import type { V1ConfigMap, V1EnvVar, V1Service } from "@kubernetes/client-node";
import type { GaiaPlatform } from "../api/types.ts";
import { hashOf } from "../hash.ts";
import { quantityToBytes } from "../quantity.ts";
import { datastoreStatefulSet, headlessService } from "./datastore.ts";
import { ANNOTATION_CONFIG_CHECKSUM, childMeta, childName, selectorLabels } from "./labels.ts";
import type { Manifest } from "./manifest.ts";
import { natsOpaquePorts, podMeshAnnotations, serviceMeshAnnotations } from "./mesh.ts";
import { DATASTORE_PORTS, NATS_CLUSTER_PORT, NATS_MONITOR_PORT, natsClustered } from "./ports.ts";
import { NATS_PASSWORD_KEY, natsGameServerSecretName, natsSecretName } from "./secrets.ts";
import { containerResources, containerSecurityContext, serviceAccount } from "./workload.ts";

/**
 * The managed NATS, laid out like its official Helm chart: a StatefulSet with JetStream on a file store, a
 * headless Service that governs it (and lets clustered servers find each other before they are ready), a client
 * Service, the server configuration in a ConfigMap, probes on the monitoring port's /healthz. Each service and
 * the game servers have a user of their own (kit/src/datastores.ts); the ConfigMap names their passwords only
 * as variables, which the server reads from its environment.
 */

const NATS_UID = 1000;
const CONFIG_DIR = "/etc/nats-config";
const STORE_DIR = "/data";

export function natsHost(platform: GaiaPlatform): string {
  return childName(platform, "nats");
}

function headlessName(platform: GaiaPlatform): string {
  return childName(platform, "nats-headless");
}

/** A password as the Secret holds it. */
const rawVariable = (user: NatsUser) => passwordVariable("nats", user);
/**
 * The same, quoted (NATS_PASSWORD_<USER>): nats-server parses a variable's value as configuration, and a
 * password such as `1e5...` or `-x...` would not read back as a string.
 */
const configVariable = (user: NatsUser) => rawVariable(user).replace(/^GAIA_/, "");

function passwordEnv(platform: GaiaPlatform): V1EnvVar[] {
  return NATS_USERS.flatMap((user): V1EnvVar[] => [
    {
      name: rawVariable(user),
      valueFrom: {
        secretKeyRef:
          user === NATS_GAME_SERVER_USER
            ? { name: natsGameServerSecretName(platform), key: NATS_PASSWORD_KEY }
            : { name: natsSecretName(platform), key: user },
      },
    },
    { name: configVariable(user), value: `"$(${rawVariable(user)})"` },
  ]);
}

/** nats.conf. $SERVER_NAME comes from the pod's name, so each server keeps its identity across restarts. */
export function natsConfig(platform: GaiaPlatform): string {
  const managed = platform.spec.nats.managed;
  if (!managed) throw new Error("natsConfig needs spec.nats.managed");
  const lines = [
    "server_name: $SERVER_NAME",
    `port: ${DATASTORE_PORTS.nats}`,
    `http_port: ${NATS_MONITOR_PORT}`,
    "jetstream {",
    `  store_dir: ${STORE_DIR}/jetstream`,
    `  max_file_store: ${quantityToBytes(managed.jetstream.storage)}`,
    "}",
    natsAuthorization((user) => `$${configVariable(user)}`),
  ];
  if (natsClustered(platform)) {
    const sts = childName(platform, "nats");
    const routes = Array.from(
      { length: managed.replicas },
      (_, i) => `    nats://${sts}-${i}.${headlessName(platform)}:${NATS_CLUSTER_PORT}`,
    );
    lines.push(
      "cluster {",
      `  name: ${sts}`,
      `  port: ${NATS_CLUSTER_PORT}`,
      "  no_advertise: true",
      "  connect_retries: 120",
      "  routes: [",
      ...routes,
      "  ]",
      "}",
    );
  }
  return `${lines.join("\n")}\n`;
}

export function nats(platform: GaiaPlatform): Manifest[] {
  const managed = platform.spec.nats.managed;
  if (!managed) return [];
  const clustered = natsClustered(platform);
  const config = natsConfig(platform);
  const clientPort = { name: "client", port: DATASTORE_PORTS.nats, targetPort: "client", protocol: "TCP" };
  const monitorPort = { name: "monitor", port: NATS_MONITOR_PORT, targetPort: "monitor", protocol: "TCP" };
  const clusterPort = { name: "cluster", port: NATS_CLUSTER_PORT, targetPort: "cluster", protocol: "TCP" };
  const configMap: V1ConfigMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: childMeta(platform, "nats-config", "nats", "messaging"),
    data: { "nats.conf": config },
  };
  const headless = headlessService(platform, "nats", "messaging", {
    part: "nats-headless",
    annotations: serviceMeshAnnotations(platform, natsOpaquePorts(platform)),
    publishNotReadyAddresses: true,
    ports: clustered ? [clientPort, clusterPort, monitorPort] : [clientPort, monitorPort],
  });
  const client: V1Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: childMeta(
      platform,
      "nats",
      "nats",
      "messaging",
      serviceMeshAnnotations(platform, [DATASTORE_PORTS.nats]),
    ),
    spec: { selector: selectorLabels(platform, "nats"), ports: [clientPort] },
  };
  const healthz = (query: string) => ({ httpGet: { path: `/healthz${query}`, port: "monitor" } });
  const statefulSet = datastoreStatefulSet(platform, {
    name: "nats",
    component: "messaging",
    serviceName: headlessName(platform),
    replicas: managed.replicas,
    // Servers of a cluster start together; each waits for its routes, not for its predecessor.
    podManagementPolicy: "Parallel",
    podAnnotations: {
      ...podMeshAnnotations(platform, natsOpaquePorts(platform)),
      [ANNOTATION_CONFIG_CHECKSUM]: hashOf(config),
    },
    uid: NATS_UID,
    container: {
      name: "nats",
      image: `nats:${managed.version}`,
      args: ["--config", `${CONFIG_DIR}/nats.conf`],
      env: [
        { name: "SERVER_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        ...passwordEnv(platform),
      ],
      ports: [
        { name: "client", containerPort: DATASTORE_PORTS.nats, protocol: "TCP" },
        ...(clustered ? [{ name: "cluster", containerPort: NATS_CLUSTER_PORT, protocol: "TCP" }] : []),
        { name: "monitor", containerPort: NATS_MONITOR_PORT, protocol: "TCP" },
      ],
      startupProbe: {
        ...healthz(""),
        initialDelaySeconds: 10,
        periodSeconds: 10,
        timeoutSeconds: 5,
        failureThreshold: 90,
      },
      livenessProbe: {
        ...healthz("?js-enabled-only=true"),
        periodSeconds: 30,
        timeoutSeconds: 5,
        failureThreshold: 3,
      },
      readinessProbe: {
        ...healthz("?js-server-only=true"),
        periodSeconds: 10,
        timeoutSeconds: 5,
        failureThreshold: 3,
      },
      resources: containerResources(managed.resources),
      securityContext: containerSecurityContext(true),
      volumeMounts: [
        { name: "config", mountPath: CONFIG_DIR, readOnly: true },
        { name: "data", mountPath: STORE_DIR },
      ],
    },
    volumes: [{ name: "config", configMap: { name: childName(platform, "nats-config") } }],
    storage: managed.jetstream.storage,
    storageClassName: managed.storageClassName,
  });
  return [serviceAccount(platform, "nats", "messaging"), configMap, headless, client, statefulSet];
}
