import { SERVICE_PORTS } from "@gaia/kit/registry";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { type GaiaPlatform, SERVICE_NAMES } from "../api/types.ts";
import { hashOf } from "../hash.ts";
import { childMeta, childName } from "./labels.ts";

/** Where Gaia's containers keep files (the kb's working copy among them); a writable volume is mounted there. */
export const DATA_DIR = "/var/lib/gaia";

export function configMapName(platform: GaiaPlatform): string {
  return childName(platform, "config");
}

/**
 * The platform-wide settings every Gaia container reads (services/kit config): where the other services are, and
 * that a service listens on the pod's interfaces (the kit's default is loopback, for laptops).
 */
export function configData(platform: GaiaPlatform): Record<string, string> {
  const data: Record<string, string> = {
    GAIA_IN_CLUSTER: "true",
    GAIA_BIND: "0.0.0.0",
    GAIA_DATA_DIR: DATA_DIR,
  };
  for (const service of SERVICE_NAMES) {
    data[`GAIA_${service.toUpperCase()}_URL`] =
      `http://${childName(platform, service)}:${SERVICE_PORTS[service]}`;
  }
  return data;
}

export function configMap(platform: GaiaPlatform): V1ConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: childMeta(platform, "config", "gaia", "config"),
    data: configData(platform),
  };
}

/**
 * The pods' configuration checksum: over the ConfigMap's data and the data of every Secret they read (generated
 * and referenced ones, by name; a missing Secret counts as null). Any change of it rolls the pods.
 */
export function configChecksum(
  platform: GaiaPlatform,
  secretData: Record<string, Record<string, string> | null>,
): string {
  return hashOf({ config: configData(platform), secrets: secretData });
}
