import type { V1Job } from "@kubernetes/client-node";
import type { GaiaPlatform } from "../api/types.ts";
import { specImage } from "../specs/migration.ts";

/**
 * The upgrade gate. The services run the last image whose `gaia db migrate` Job succeeded (status.migratedImage);
 * a new spec image first gets its Job, and only its success moves the services on. Pure.
 */

export type MigrationPhase = "Pending" | "Running" | "Succeeded" | "Failed";

export interface Rollout {
  /** Image of the Deployments; undefined before the first migration (no Deployments yet). */
  servicesImage?: string;
  /** Image whose migration Job must exist; undefined once the spec's image is recorded as migrated. */
  migrationImage?: string;
  /** What status.migratedImage becomes. */
  migratedImage?: string;
  /** The spec image's migration, while it is not yet recorded. */
  migration?: { image: string; phase: MigrationPhase; message: string };
}

const condition = (job: V1Job, type: string) =>
  job.status?.conditions?.find((c) => c.type === type && c.status === "True");

export function jobPhase(job: V1Job | undefined): { phase: MigrationPhase; message: string } {
  if (!job) return { phase: "Pending", message: "the migration Job is being created" };
  const failed = condition(job, "Failed");
  if (failed)
    return { phase: "Failed", message: failed.message || failed.reason || "the migration Job failed" };
  if (condition(job, "Complete")) return { phase: "Succeeded", message: "the migration Job succeeded" };
  return { phase: "Running", message: `migration Job ${job.metadata?.name} is running` };
}

/** `job`: the observed migration Job of the spec's image, if any. */
export function planRollout(platform: GaiaPlatform, job: V1Job | undefined): Rollout {
  const target = specImage(platform);
  const migrated = platform.status?.migratedImage;
  if (migrated === target) return { servicesImage: target, migratedImage: target };
  const { phase, message } = jobPhase(job);
  if (phase === "Succeeded") {
    // Keep the Job wanted until status records the image; the next reconcile prunes it.
    return {
      servicesImage: target,
      migrationImage: target,
      migratedImage: target,
      migration: { image: target, phase, message },
    };
  }
  return {
    servicesImage: migrated,
    migrationImage: target,
    migratedImage: migrated,
    migration: { image: target, phase, message },
  };
}
