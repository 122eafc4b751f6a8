import type { KubernetesObject } from "@kubernetes/client-node";
import type { GaiaPlatform } from "../api/types.ts";
import { LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGED_BY } from "../specs/labels.ts";
import { manifestKey } from "../specs/manifest.ts";

/** Which observed objects belong to a platform, and which of them are no longer wanted. Pure. */

/** The platform is the object's controller (same uid: a recreated platform of the same name is another owner). */
export function isControlledBy(platform: GaiaPlatform, object: KubernetesObject): boolean {
  return (object.metadata?.ownerReferences ?? []).some(
    (ref) => ref.controller === true && ref.uid === platform.metadata.uid,
  );
}

/** Carries the platform's instance and managed-by labels (so it is the platform's, owned or not). */
export function isLabelledFor(platform: GaiaPlatform, object: KubernetesObject): boolean {
  const labels = object.metadata?.labels ?? {};
  return labels[LABEL_INSTANCE] === platform.metadata.name && labels[LABEL_MANAGED_BY] === MANAGED_BY;
}

/**
 * Children to delete: labelled for and controlled by this platform, not wanted, not already going. Objects it
 * does not control (the volumes, an orphaned Secret) are never pruned.
 */
export function toPrune<T extends KubernetesObject>(
  platform: GaiaPlatform,
  observed: readonly T[],
  wanted: ReadonlySet<string>,
): T[] {
  return observed.filter(
    (object) =>
      isLabelledFor(platform, object) &&
      isControlledBy(platform, object) &&
      !object.metadata?.deletionTimestamp &&
      !wanted.has(manifestKey(object)),
  );
}

/** The platform's controller of a given object, if any: the key ("namespace/name") to reconcile when it changes. */
export function ownerKey(object: KubernetesObject, kind: string, apiVersion: string): string | undefined {
  const ref = (object.metadata?.ownerReferences ?? []).find(
    (r) => r.controller === true && r.kind === kind && r.apiVersion === apiVersion,
  );
  return ref && object.metadata?.namespace ? `${object.metadata.namespace}/${ref.name}` : undefined;
}
