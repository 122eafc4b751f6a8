import type { GaiaPlatform } from "../api/types.ts";
import { datastoreStatefulSet, headlessService } from "./datastore.ts";
import { childName } from "./labels.ts";
import type { Manifest } from "./manifest.ts";
import { podMeshAnnotations } from "./mesh.ts";
import { DATASTORE_PORTS } from "./ports.ts";
import {
  POSTGRES_DATABASE,
  POSTGRES_PASSWORD_KEY,
  POSTGRES_USER,
  POSTGRES_USER_KEY,
  postgresSecretName,
} from "./secrets.ts";
import { containerResources, containerSecurityContext, serviceAccount } from "./workload.ts";

/** The managed PostgreSQL: one StatefulSet pod on its own volume, behind a headless Service. */

/** The postgres image's own user. */
const POSTGRES_UID = 999;
const DATA_DIR = "/var/lib/postgresql/data";

/** Host name of the managed database, as the services reach it. */
export function postgresHost(platform: GaiaPlatform): string {
  return childName(platform, "postgres");
}

export function postgres(platform: GaiaPlatform): Manifest[] {
  const managed = platform.spec.postgres.managed;
  if (!managed) return [];
  const port = DATASTORE_PORTS.postgres;
  const ready = ["pg_isready", "-h", "127.0.0.1", "-U", POSTGRES_USER, "-d", POSTGRES_DATABASE];
  const service = headlessService(platform, "postgres", "database", {
    ports: [{ name: "postgres", port, targetPort: "postgres", protocol: "TCP" }],
  });
  const statefulSet = datastoreStatefulSet(platform, {
    name: "postgres",
    component: "database",
    serviceName: childName(platform, "postgres"),
    replicas: managed.replicas,
    podAnnotations: podMeshAnnotations(platform),
    uid: POSTGRES_UID,
    container: {
      name: "postgres",
      image: `postgres:${managed.version}`,
      env: [
        {
          name: "POSTGRES_USER",
          valueFrom: { secretKeyRef: { name: postgresSecretName(platform), key: POSTGRES_USER_KEY } },
        },
        {
          name: "POSTGRES_PASSWORD",
          valueFrom: { secretKeyRef: { name: postgresSecretName(platform), key: POSTGRES_PASSWORD_KEY } },
        },
        { name: "POSTGRES_DB", value: POSTGRES_DATABASE },
        // A subdirectory: the volume's root may hold lost+found, which initdb refuses.
        { name: "PGDATA", value: `${DATA_DIR}/pgdata` },
      ],
      ports: [{ name: "postgres", containerPort: port, protocol: "TCP" }],
      readinessProbe: { exec: { command: ready }, periodSeconds: 5, failureThreshold: 3 },
      livenessProbe: {
        exec: { command: ready },
        initialDelaySeconds: 30,
        periodSeconds: 10,
        failureThreshold: 6,
      },
      resources: containerResources(managed.resources),
      securityContext: containerSecurityContext(false),
      volumeMounts: [{ name: "data", mountPath: DATA_DIR }],
    },
    storage: managed.storage,
    storageClassName: managed.storageClassName,
  });
  return [serviceAccount(platform, "postgres", "database"), service, statefulSet];
}
