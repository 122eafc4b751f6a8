import type { V1Job } from "@kubernetes/client-node";
import type { GaiaPlatform } from "../api/types.ts";
import { hashOf } from "../hash.ts";
import { configMapName } from "./configmap.ts";
import { databaseEnv } from "./env.ts";
import { childMeta, childName, labels, versionLabel } from "./labels.ts";
import { jobMeshAnnotations } from "./mesh.ts";
import {
  containerSecurityContext,
  GAIA_UID,
  imagePullSecrets,
  podSecurityContext,
  serviceAccount,
  serviceAccountName,
} from "./workload.ts";

/**
 * The schema migration of an image: a Job running `gaia db migrate`, one per image reference. Its name derives
 * from the image, so a new tag gets a new Job, and an existing Job is never changed (a Job's pod template is
 * immutable): it is created once and the services move to its image when it has succeeded.
 */

/** The image reference the spec asks for. */
export function specImage(platform: GaiaPlatform): string {
  return `${platform.spec.image.repository}:${platform.spec.image.tag}`;
}

function jobPart(image: string): string {
  return `migrate-${hashOf(image).slice(0, 10)}`;
}

export function migrationJobName(platform: GaiaPlatform, image: string): string {
  return childName(platform, jobPart(image));
}

export function migrationServiceAccount(platform: GaiaPlatform) {
  return serviceAccount(platform, "migrate", "migration");
}

export function migrationJob(platform: GaiaPlatform, image: string): V1Job {
  const podLabels = {
    ...labels(platform, "migrate", "migration"),
    ...versionLabel(image.slice(image.lastIndexOf(":") + 1)),
  };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      ...childMeta(platform, jobPart(image), "migrate", "migration"),
      labels: podLabels,
    },
    spec: {
      // The database may still be starting; the Job's own back-off (10 s doubling) bridges several minutes.
      backoffLimit: 6,
      template: {
        metadata: { labels: podLabels, annotations: jobMeshAnnotations(platform) },
        spec: {
          restartPolicy: "Never",
          serviceAccountName: serviceAccountName(platform, "migrate"),
          automountServiceAccountToken: false,
          // Service links would inject e.g. GAIA_GATEWAY_PORT=tcp://..., which clashes with Gaia's own settings.
          enableServiceLinks: false,
          securityContext: podSecurityContext(GAIA_UID),
          ...imagePullSecrets(platform),
          containers: [
            {
              name: "migrate",
              image,
              imagePullPolicy: platform.spec.image.pullPolicy,
              command: ["gaia", "db", "migrate"],
              envFrom: [{ configMapRef: { name: configMapName(platform) } }],
              env: databaseEnv(platform, "migration"),
              resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } },
              securityContext: containerSecurityContext(true),
              volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ],
          volumes: [{ name: "tmp", emptyDir: {} }],
        },
      },
    },
  };
}
