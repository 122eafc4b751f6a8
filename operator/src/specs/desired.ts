import type { GaiaPlatform } from "../api/types.ts";
import { assetClaim } from "./asset.ts";
import { configMap } from "./configmap.ts";
import { autoscalers } from "./hpa.ts";
import { ingresses } from "./ingress.ts";
import { kbClaim } from "./kb.ts";
import type { Manifest } from "./manifest.ts";
import { meshPolicy } from "./mesh.ts";
import { migrationJob, migrationServiceAccount } from "./migration.ts";
import { nats } from "./nats.ts";
import { networkPolicies } from "./netpol.ts";
import { disruptionBudgets } from "./pdb.ts";
import { postgres } from "./postgres.ts";
import { redis } from "./redis.ts";
import { services } from "./services.ts";

/** What the reconcile learned from the cluster and passes to the pure builders. */
export interface DesiredInput {
  /** Image the services run; undefined until the first migration succeeded. */
  servicesImage?: string;
  /** Image whose migration Job is wanted; undefined once the spec's image is migrated. */
  migrationImage?: string;
  /** See configChecksum(). */
  configChecksum: string;
}

/** The platform's children, by how they are written. */
export interface Desired {
  /** Server-side applied whenever they differ from the cluster. */
  applied: Manifest[];
  /** Created when absent and otherwise left alone: the migration Job (immutable), the kb and asset volume claims. */
  created: Manifest[];
}

/** Every child a platform should have, given what the cluster told us. Pure. */
export function desired(platform: GaiaPlatform, input: DesiredInput): Desired {
  const deploymentsExist = input.servicesImage !== undefined;
  const applied: Manifest[] = [
    configMap(platform),
    ...services(platform, { image: input.servicesImage, configChecksum: input.configChecksum }),
    ...(deploymentsExist ? autoscalers(platform) : []),
    ...disruptionBudgets(platform),
    ...ingresses(platform),
    migrationServiceAccount(platform),
    ...postgres(platform),
    ...redis(platform),
    ...nats(platform),
    ...meshPolicy(platform),
    ...networkPolicies(platform),
  ] as Manifest[];
  const claim = kbClaim(platform);
  const created = [
    ...(input.migrationImage ? [migrationJob(platform, input.migrationImage)] : []),
    ...(claim ? [claim] : []),
    assetClaim(platform),
  ] as Manifest[];
  return { applied, created };
}
