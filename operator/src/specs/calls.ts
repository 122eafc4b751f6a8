import { SERVICE_PORTS } from "@gaia/kit/registry";
import {
  DATASTORE_NAMES,
  type DatastoreName,
  type GaiaPlatform,
  SERVICE_NAMES,
  type ServiceName,
} from "../api/types.ts";
import { DATASTORE_PORTS, NATS_CLUSTER_PORT, natsClustered } from "./ports.ts";

/**
 * Who may call whom inside a platform: one edge list, the contract both walls enforce — Linkerd's policy (mesh.ts)
 * by identity, Kubernetes NetworkPolicies (netpol.ts) by pod labels. mesh/POLICY.md describes it.
 */

/** A workload with its own pods and ServiceAccount, i.e. its own labels and mesh identity. */
export type Workload = ServiceName | DatastoreName | "migrate";

/**
 * Caller → callee. Every service opens the database, cache and bus when it starts (the kit's runtime, wired by
 * env.ts); the migration Job only needs the database.
 */
export const CALLS: ReadonlyArray<readonly [from: Workload, to: Workload]> = [
  ["web", "gateway"],
  ["gateway", "auth"],
  ["gateway", "asset"],
  ["gateway", "chat"],
  ["gateway", "kb"],
  ["chat", "kb"],
  ["chat", "auth"],
  ["asset", "auth"],
  ["kb", "auth"],
  ...SERVICE_NAMES.flatMap((service) => DATASTORE_NAMES.map((store) => [service, store] as const)),
  ["migrate", "postgres"],
];

/** The entry points: they admit everyone (ingress controllers, load balancers, users), from anywhere. */
export const ENTRY_POINTS: ReadonlySet<Workload> = new Set<Workload>(["gateway", "web"]);

/** One port a workload serves, and who may connect to it. */
export interface Inbound {
  workload: Workload;
  /** The container port's name, as the pod spec declares it. */
  port: string;
  /** The container port's number. */
  number: number;
  /** Server-speaks-first or binary protocols, exempt from protocol detection. */
  opaque: boolean;
  /** Callers, sorted; empty for an entry point, which admits everyone. */
  clients: Workload[];
}

const DATASTORE_PORT_NAMES: Record<DatastoreName, string> = {
  postgres: "postgres",
  redis: "redis",
  nats: "client",
};

/** The name part of the objects that guard one port (`<platform>-<workload>-<port>`). */
export function inboundPart(inbound: Inbound): string {
  return `${inbound.workload}-${inbound.port}`;
}

/** Every port of the platform's workloads with its allowed callers. External datastores are not ours. */
export function inbounds(platform: GaiaPlatform): Inbound[] {
  const callersOf = (to: Workload) =>
    [...new Set(CALLS.filter(([, callee]) => callee === to).map(([caller]) => caller))].sort();
  const result: Inbound[] = SERVICE_NAMES.map((service) => ({
    workload: service,
    port: "http",
    number: SERVICE_PORTS[service],
    opaque: false,
    clients: ENTRY_POINTS.has(service) ? [] : callersOf(service),
  }));
  for (const store of DATASTORE_NAMES) {
    if (!platform.spec[store].managed) continue;
    result.push({
      workload: store,
      port: DATASTORE_PORT_NAMES[store],
      number: DATASTORE_PORTS[store],
      opaque: true,
      clients: callersOf(store),
    });
  }
  // Clustered NATS servers route to each other on the cluster port.
  if (natsClustered(platform))
    result.push({
      workload: "nats",
      port: "cluster",
      number: NATS_CLUSTER_PORT,
      opaque: true,
      clients: ["nats"],
    });
  return result;
}
