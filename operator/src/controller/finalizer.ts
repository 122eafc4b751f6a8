import type { KubernetesObject } from "@kubernetes/client-node";
import type { GaiaPlatform } from "../api/types.ts";
import { isControlledBy, isLabelledFor } from "./ownership.ts";

/**
 * What deleting a platform does beyond the garbage collector, which removes every owned child. The volumes are
 * not owned (not by the platform, and the StatefulSets retain theirs), so retainPolicy decides here:
 * - Delete: delete the StatefulSets first (their pods hold the claims), then every claim; the claims go once their
 *   pods are gone, so the finalizer need not wait for that.
 * - Retain: keep the claims, and release the generated Secrets from the platform so the garbage collector keeps
 *   them too: a platform recreated under the same name then finds its database password and signing key again.
 * Then the finalizer is removed. Pure.
 */

export type FinalizeStep =
  | { action: "deleteStatefulSet"; name: string }
  | { action: "deleteClaim"; name: string }
  | { action: "releaseSecret"; name: string }
  | { action: "removeFinalizer" };

export interface FinalizeInput {
  statefulSets: readonly KubernetesObject[];
  claims: readonly KubernetesObject[];
  /** The generated Secrets (JWT key, database password) as observed. */
  generatedSecrets: readonly KubernetesObject[];
}

const going = (object: KubernetesObject) => !!object.metadata?.deletionTimestamp;
const nameOf = (object: KubernetesObject) => object.metadata?.name ?? "";

export function finalizeSteps(platform: GaiaPlatform, input: FinalizeInput): FinalizeStep[] {
  const steps: FinalizeStep[] = [];
  if (platform.spec.retainPolicy === "Delete") {
    for (const set of input.statefulSets) {
      if (isControlledBy(platform, set) && !going(set))
        steps.push({ action: "deleteStatefulSet", name: nameOf(set) });
    }
    for (const claim of input.claims) {
      if (isLabelledFor(platform, claim) && !going(claim))
        steps.push({ action: "deleteClaim", name: nameOf(claim) });
    }
  } else {
    for (const secret of input.generatedSecrets) {
      if (isControlledBy(platform, secret)) steps.push({ action: "releaseSecret", name: nameOf(secret) });
    }
  }
  steps.push({ action: "removeFinalizer" });
  return steps;
}
