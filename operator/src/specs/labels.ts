import type { V1ObjectMeta, V1OwnerReference } from "@kubernetes/client-node";
import { API_VERSION, type GaiaPlatform, KIND } from "../api/types.ts";

/** Value of app.kubernetes.io/managed-by on every child, and the server-side-apply field manager. */
export const MANAGED_BY = "gaia-operator";
export const FIELD_MANAGER = "gaia-operator";

export const LABEL_NAME = "app.kubernetes.io/name";
export const LABEL_INSTANCE = "app.kubernetes.io/instance";
export const LABEL_COMPONENT = "app.kubernetes.io/component";
export const LABEL_PART_OF = "app.kubernetes.io/part-of";
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const LABEL_VERSION = "app.kubernetes.io/version";

/** Hash of the desired object last applied; equal hash and no drift means the apply can be skipped. */
export const ANNOTATION_APPLIED_HASH = "gaia.dev/applied-hash";
/** Hash of the configuration a pod template consumes; when it changes the pods roll. */
export const ANNOTATION_CONFIG_CHECKSUM = "gaia.dev/config-checksum";

/** The role of a child in the platform (app.kubernetes.io/component). */
export type Component =
  | "gateway"
  | "frontend"
  | "backend"
  | "database"
  | "cache"
  | "messaging"
  | "migration"
  | "config"
  | "credentials"
  | "storage"
  | "mesh-policy"
  | "network-policy";

export function childName(platform: GaiaPlatform, part: string): string {
  return `${platform.metadata.name}-${part}`;
}

/** The labels that select a workload's pods. Never more: a selector is immutable once created. */
export function selectorLabels(platform: GaiaPlatform, name: string): Record<string, string> {
  return { [LABEL_NAME]: name, [LABEL_INSTANCE]: platform.metadata.name };
}

/** Kubernetes' recommended labels, carried by every child. */
export function labels(platform: GaiaPlatform, name: string, component: Component): Record<string, string> {
  return {
    ...selectorLabels(platform, name),
    [LABEL_COMPONENT]: component,
    [LABEL_PART_OF]: "gaia",
    [LABEL_MANAGED_BY]: MANAGED_BY,
  };
}

/** The labels every child of one platform carries, its pods included, and no one else's. */
export function instanceLabels(platform: GaiaPlatform): Record<string, string> {
  return { [LABEL_INSTANCE]: platform.metadata.name, [LABEL_MANAGED_BY]: MANAGED_BY };
}

/** Selects every child of one platform, for pruning and for finding its volumes. */
export function instanceSelector(platform: GaiaPlatform): string {
  return Object.entries(instanceLabels(platform))
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
}

/** Makes the platform the controller of a child, so the garbage collector deletes the child with it. */
export function ownerReference(platform: GaiaPlatform): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: platform.metadata.name,
    uid: platform.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** app.kubernetes.io/version for an image tag, left out when the tag is not a valid label value (>63 chars, ...). */
export function versionLabel(tag: string): Record<string, string> {
  return tag.length <= 63 && LABEL_VALUE.test(tag) ? { [LABEL_VERSION]: tag } : {};
}

/** Metadata of an owned child named <platform>-<part>. */
export function childMeta(
  platform: GaiaPlatform,
  part: string,
  name: string,
  component: Component,
  annotations?: Record<string, string>,
): V1ObjectMeta {
  return {
    name: childName(platform, part),
    namespace: platform.metadata.namespace,
    labels: labels(platform, name, component),
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
    ownerReferences: [ownerReference(platform)],
  };
}
