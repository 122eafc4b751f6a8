import type { V1Service, V1StatefulSet } from "@kubernetes/client-node";
import type { GaiaPlatform } from "../api/types.ts";
import { childMeta, childName, labels, selectorLabels } from "./labels.ts";
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
import {
  containerResources,
  containerSecurityContext,
  dataVolumeClaim,
  podSecurityContext,
  serviceAccount,
  serviceAccountName,
} from "./workload.ts";

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
  const name = childName(platform, "postgres");
  const port = DATASTORE_PORTS.postgres;
  const ready = ["pg_isready", "-h", "127.0.0.1", "-U", POSTGRES_USER, "-d", POSTGRES_DATABASE];
  const service: V1Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: childMeta(platform, "postgres", "postgres", "database"),
    spec: {
      clusterIP: "None",
      selector: selectorLabels(platform, "postgres"),
      ports: [{ name: "postgres", port, targetPort: "postgres", protocol: "TCP" }],
    },
  };
  const statefulSet: V1StatefulSet = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: childMeta(platform, "postgres", "postgres", "database"),
    spec: {
      serviceName: name,
      replicas: managed.replicas,
      selector: { matchLabels: selectorLabels(platform, "postgres") },
      // The volume outlives the StatefulSet; the platform's finalizer decides its fate (retainPolicy).
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
      template: {
        metadata: {
          labels: labels(platform, "postgres", "database"),
          annotations: podMeshAnnotations(platform),
        },
        spec: {
          serviceAccountName: serviceAccountName(platform, "postgres"),
          automountServiceAccountToken: false,
          // Service links would inject e.g. GAIA_GATEWAY_PORT=tcp://..., which clashes with Gaia's own settings.
          enableServiceLinks: false,
          securityContext: podSecurityContext(POSTGRES_UID),
          containers: [
            {
              name: "postgres",
              image: `postgres:${managed.version}`,
              env: [
                {
                  name: "POSTGRES_USER",
                  valueFrom: { secretKeyRef: { name: postgresSecretName(platform), key: POSTGRES_USER_KEY } },
                },
                {
                  name: "POSTGRES_PASSWORD",
                  valueFrom: {
                    secretKeyRef: { name: postgresSecretName(platform), key: POSTGRES_PASSWORD_KEY },
                  },
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
          ],
        },
      },
      volumeClaimTemplates: [
        dataVolumeClaim(platform, "postgres", "database", managed.storage, managed.storageClassName),
      ],
    },
  };
  return [serviceAccount(platform, "postgres", "database"), service, statefulSet];
}
