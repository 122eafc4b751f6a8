import type {
  V1Capabilities,
  V1LocalObjectReference,
  V1PersistentVolumeClaim,
  V1PodSecurityContext,
  V1ResourceRequirements,
  V1SecurityContext,
  V1ServiceAccount,
} from "@kubernetes/client-node";
import type { GaiaPlatform, Resources } from "../api/types.ts";
import { type Component, childMeta, childName, labels } from "./labels.ts";

/** Pieces every pod the operator runs shares: identity, security settings, registry credentials, volumes. */

/** The uid:gid Gaia's image runs as; a numeric user lets the kubelet verify runAsNonRoot. */
export const GAIA_UID = 10001;

/** Each workload has its own ServiceAccount: the identity Linkerd's policy authorizes. */
export function serviceAccountName(platform: GaiaPlatform, workload: string): string {
  return childName(platform, workload);
}

export function serviceAccount(
  platform: GaiaPlatform,
  workload: string,
  component: Component,
): V1ServiceAccount {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: childMeta(platform, workload, workload, component),
    // No pod of the platform talks to the Kubernetes API.
    automountServiceAccountToken: false,
  };
}

export function podSecurityContext(uid: number): V1PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    seccompProfile: { type: "RuntimeDefault" },
  };
}

const DROP_ALL: V1Capabilities = { drop: ["ALL"] };

export function containerSecurityContext(readOnlyRootFilesystem: boolean): V1SecurityContext {
  return { allowPrivilegeEscalation: false, readOnlyRootFilesystem, capabilities: DROP_ALL };
}

export function imagePullSecrets(platform: GaiaPlatform): { imagePullSecrets?: V1LocalObjectReference[] } {
  const names = platform.spec.image.pullSecrets ?? [];
  return names.length > 0 ? { imagePullSecrets: names.map((name) => ({ name })) } : {};
}

/** The claim template of a datastore's data volume; the claims it creates carry the platform's labels. */
export function dataVolumeClaim(
  platform: GaiaPlatform,
  workload: string,
  component: Component,
  storage: string,
  storageClassName: string | undefined,
): V1PersistentVolumeClaim {
  return {
    metadata: { name: "data", labels: labels(platform, workload, component) },
    spec: {
      accessModes: ["ReadWriteOnce"],
      ...(storageClassName ? { storageClassName } : {}),
      resources: { requests: { storage } },
    },
  };
}

/** Container resources from the spec; integer quantities (the CRD allows `cpu: 1`) become their string form. */
export function containerResources(resources: Resources): V1ResourceRequirements {
  const strings = (map?: Record<string, string | number>) =>
    map && Object.fromEntries(Object.entries(map).map(([name, value]) => [name, String(value)]));
  return {
    ...(resources.requests ? { requests: strings(resources.requests) } : {}),
    ...(resources.limits ? { limits: strings(resources.limits) } : {}),
  };
}
