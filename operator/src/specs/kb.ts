import type { V1PersistentVolumeClaim, V1Volume } from "@kubernetes/client-node";
import type { GaiaPlatform } from "../api/types.ts";
import { childName, labels } from "./labels.ts";

/**
 * The knowledge base's data volume. With a Git remote the working copy is a cache the remote can rebuild, so an
 * emptyDir of the requested size will do and kb can scale out. Without one the repository is the only copy: it
 * lives on a PersistentVolumeClaim that, like the datastores' volumes, is not owned by the platform (so the
 * garbage collector never takes it) and is kept or deleted by the finalizer per retainPolicy.
 */

export function kbClaimName(platform: GaiaPlatform): string {
  return childName(platform, "kb-data");
}

export function kbPersistent(platform: GaiaPlatform): boolean {
  return platform.spec.kb.git === undefined;
}

export function kbClaim(platform: GaiaPlatform): V1PersistentVolumeClaim | undefined {
  if (!kbPersistent(platform)) return undefined;
  const { storage, storageClassName } = platform.spec.kb;
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: kbClaimName(platform),
      namespace: platform.metadata.namespace,
      labels: labels(platform, "kb", "storage"),
    },
    spec: {
      accessModes: ["ReadWriteOnce"],
      ...(storageClassName ? { storageClassName } : {}),
      resources: { requests: { storage } },
    },
  };
}

export function kbVolume(platform: GaiaPlatform): V1Volume {
  return kbPersistent(platform)
    ? { name: "data", persistentVolumeClaim: { claimName: kbClaimName(platform) } }
    : { name: "data", emptyDir: { sizeLimit: platform.spec.kb.storage } };
}
