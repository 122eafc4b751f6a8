import type { KubernetesObject } from "@kubernetes/client-node";
import { hashOf } from "../hash.ts";
import { parseQuantity } from "../quantity.ts";
import { ANNOTATION_APPLIED_HASH } from "../specs/labels.ts";
import type { Manifest } from "../specs/manifest.ts";

/**
 * Desired vs observed: whether applying a desired object would change anything. This is what keeps a no-op resync
 * free of writes. Two checks, both needed:
 * - the applied-hash annotation: the live object was last applied from exactly this desired object (catches
 *   fields the operator stopped setting, which server-side apply then removes);
 * - every field the operator sets still has its value (catches edits by others: kubectl scale, a deleted label).
 */

/** The desired object carrying the hash of itself, as it is applied. */
export function withAppliedHash<T extends Manifest>(object: T): T {
  const copy = structuredClone(object);
  copy.metadata = {
    ...copy.metadata,
    annotations: { ...copy.metadata?.annotations, [ANNOTATION_APPLIED_HASH]: hashOf(object) },
  };
  return copy;
}

/** Keys whose values are resource quantities, which the API server stores in canonical form ("1024Mi" → "1Gi"). */
const QUANTITY_CONTEXT = new Set(["requests", "limits", "sizeLimit", "storage"]);

function sameScalar(want: unknown, have: unknown, path: readonly string[]): boolean {
  if (want === have) return true;
  if (
    path.some((key) => QUANTITY_CONTEXT.has(key)) &&
    (typeof want === "string" || typeof want === "number")
  ) {
    const a = parseQuantity(want);
    const b = typeof have === "string" || typeof have === "number" ? parseQuantity(have) : undefined;
    return a !== undefined && a === b;
  }
  return false;
}

const isEmpty = (value: unknown) =>
  (Array.isArray(value) && value.length === 0) ||
  (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0);

/**
 * Whether every value set in `want` is present and equal in `have`. Fields only `have` carries (defaults, status,
 * other managers' fields) are ignored; lists must match element by element, as server-side apply would make them.
 * The API server drops empty maps and lists, so an empty desired one matches an absent one.
 */
export function isSubset(want: unknown, have: unknown, path: readonly string[] = []): boolean {
  if (want === undefined) return true;
  if (isEmpty(want) && (have === undefined || have === null)) return true;
  if (Array.isArray(want)) {
    return (
      Array.isArray(have) &&
      have.length === want.length &&
      want.every((item, i) => isSubset(item, have[i], path))
    );
  }
  if (want !== null && typeof want === "object") {
    if (have === null || typeof have !== "object" || Array.isArray(have)) return false;
    return Object.entries(want).every(([key, value]) =>
      isSubset(value, (have as Record<string, unknown>)[key], [...path, key]),
    );
  }
  return sameScalar(want, have, path);
}

/** Whether `applied` (the desired object with its hash) must be applied over `live` (undefined: absent). */
export function needsApply(applied: Manifest, live: KubernetesObject | undefined): boolean {
  if (!live) return true;
  const liveHash = live.metadata?.annotations?.[ANNOTATION_APPLIED_HASH];
  if (liveHash !== applied.metadata?.annotations?.[ANNOTATION_APPLIED_HASH]) return true;
  return !isSubset(applied, live);
}

interface WithStrategy {
  spec?: { strategy?: { type?: string } };
}

/**
 * The merge patch to send before applying a Deployment whose update strategy changes, or undefined. Server-side
 * apply cannot make that switch alone: a Deployment created with the default RollingUpdate carries a
 * `rollingUpdate` the API server defaulted and no manager owns, so applying `type: Recreate` (the asset and kb
 * Deployments on their ReadWriteOnce claims) is refused with "may not be specified when strategy `type` is
 * 'Recreate'". The patch sets the type and drops `rollingUpdate`; the apply that follows finds them as it wants
 * them. The way back is patched too: the patch co-owns the type, which an apply no longer setting it keeps.
 */
export function strategySwitch(applied: Manifest, live: KubernetesObject | undefined): object | undefined {
  if (applied.kind !== "Deployment" || !live) return undefined;
  const want = (applied as WithStrategy).spec?.strategy?.type ?? "RollingUpdate";
  const have = (live as WithStrategy).spec?.strategy?.type ?? "RollingUpdate";
  if (want === have) return undefined;
  return {
    spec: { strategy: want === "Recreate" ? { type: want, rollingUpdate: null } : { type: want } },
  };
}
