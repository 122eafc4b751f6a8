import type { V1PersistentVolumeClaim, V1Volume } from "@kubernetes/client-node";
import type { GaiaPlatform } from "../api/types.ts";
import { childName, labels } from "./labels.ts";

/**
 * The asset service's data volume. Its generated files (under GAIA_DATA_DIR/assets) must stay until their owner
 * deletes them, and with no S3 storage yet this volume is their only copy: a PersistentVolumeClaim that, like the
 * kb's and the datastores' volumes, is not owned by the platform (so the garbage collector never takes it) and is
 * kept or deleted by the finalizer per retainPolicy. ReadWriteOnce, so asset runs one pod (the CRD says so).
 */

export function assetClaimName(platform: GaiaPlatform): string {
  return childName(platform, "asset-data");
}

export function assetClaim(platform: GaiaPlatform): V1PersistentVolumeClaim {
  const { size, storageClassName } = platform.spec.assets.storage;
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: assetClaimName(platform),
      namespace: platform.metadata.namespace,
      labels: labels(platform, "asset", "storage"),
    },
    spec: {
      accessModes: ["ReadWriteOnce"],
      ...(storageClassName ? { storageClassName } : {}),
      resources: { requests: { storage: size } },
    },
  };
}

export function assetVolume(platform: GaiaPlatform): V1Volume {
  return { name: "data", persistentVolumeClaim: { claimName: assetClaimName(platform) } };
}
