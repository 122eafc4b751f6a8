import type { DatastoreName, GaiaPlatform } from "../api/types.ts";

/* The services' ports are the kit's SERVICE_PORTS (@gaia/kit/registry), the ones the services themselves assume. */

/** Client ports of the managed datastores. */
export const DATASTORE_PORTS: Record<DatastoreName, number> = {
  postgres: 5432,
  redis: 6379,
  nats: 4222,
};

/** NATS's other ports, as its Helm chart names them. */
export const NATS_CLUSTER_PORT = 6222;
export const NATS_MONITOR_PORT = 8222;

/** Three or more NATS servers form a cluster (the CRD allows 1 or >= 3); only then is the cluster port served. */
export function natsClustered(platform: GaiaPlatform): boolean {
  return (platform.spec.nats.managed?.replicas ?? 1) > 1;
}
