import {
  DATASTORE_NAMES,
  type DatastoreName,
  type GaiaPlatform,
  SERVICE_NAMES,
  type ServiceName,
} from "../api/types.ts";
import { childMeta, selectorLabels } from "./labels.ts";
import type { Manifest } from "./manifest.ts";
import { DATASTORE_PORTS, NATS_CLUSTER_PORT, natsClustered } from "./ports.ts";
import { serviceAccountName } from "./workload.ts";

/**
 * Linkerd: pod annotations, and with policy `strict` the authorization objects that allow exactly the calls the
 * platform makes. The call graph is one edge list (CALLS); Servers, their allowed clients and the tests' "who may
 * call whom" table all derive from it.
 */

/** A workload with its own ServiceAccount, i.e. its own mesh identity. */
export type Workload = ServiceName | DatastoreName | "migrate";

/** Caller → callee. The migration Job only needs the database. */
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

/** The entry points: their Servers admit unauthenticated traffic (ingress controllers, load balancers, users). */
export const ENTRY_POINTS: ReadonlySet<Workload> = new Set<Workload>(["gateway", "web"]);

const POLICY_GROUP = "policy.linkerd.io";
const SERVER_API = `${POLICY_GROUP}/v1beta3`;
const AUTHN_API = `${POLICY_GROUP}/v1alpha1`;

/** One port a meshed workload serves, and who may connect to it. */
export interface Inbound {
  workload: Workload;
  /** The container port's name; Linkerd resolves it in the pod spec. */
  port: string;
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

/** Every port of the platform's meshed workloads with its allowed callers. External datastores are not ours. */
export function inbounds(platform: GaiaPlatform): Inbound[] {
  const callersOf = (to: Workload) =>
    [...new Set(CALLS.filter(([, callee]) => callee === to).map(([caller]) => caller))].sort();
  const result: Inbound[] = SERVICE_NAMES.map((service) => ({
    workload: service,
    port: "http",
    opaque: false,
    clients: ENTRY_POINTS.has(service) ? [] : callersOf(service),
  }));
  for (const store of DATASTORE_NAMES) {
    if (!platform.spec[store].managed) continue;
    result.push({
      workload: store,
      port: DATASTORE_PORT_NAMES[store],
      opaque: true,
      clients: callersOf(store),
    });
  }
  // Clustered NATS servers route to each other on the cluster port.
  if (natsClustered(platform))
    result.push({ workload: "nats", port: "cluster", opaque: true, clients: ["nats"] });
  return result;
}

function policyName(inbound: Inbound): string {
  return `${inbound.workload}-${inbound.port}`;
}

/** Server + MeshTLSAuthentication + AuthorizationPolicy per port; empty unless the mesh is on with policy strict. */
export function meshPolicy(platform: GaiaPlatform): Manifest[] {
  const { linkerd } = platform.spec.mesh;
  if (!linkerd.enabled || linkerd.policy !== "strict") return [];
  const objects: Manifest[] = [];
  for (const inbound of inbounds(platform)) {
    const part = policyName(inbound);
    const metadata = () => childMeta(platform, part, inbound.workload, "mesh-policy");
    const name = metadata().name;
    const entry = inbound.clients.length === 0;
    objects.push({
      apiVersion: SERVER_API,
      kind: "Server",
      metadata: metadata(),
      spec: {
        podSelector: { matchLabels: selectorLabels(platform, inbound.workload) },
        port: inbound.port,
        ...(inbound.opaque ? { proxyProtocol: "opaque" } : {}),
        // Anything no AuthorizationPolicy admits is refused; the entry points admit everyone.
        accessPolicy: entry ? "all-unauthenticated" : "deny",
      },
    });
    if (entry) continue;
    objects.push({
      apiVersion: AUTHN_API,
      kind: "MeshTLSAuthentication",
      metadata: metadata(),
      spec: {
        identityRefs: inbound.clients.map((client) => ({
          kind: "ServiceAccount",
          name: serviceAccountName(platform, client),
        })),
      },
    });
    objects.push({
      apiVersion: AUTHN_API,
      kind: "AuthorizationPolicy",
      metadata: metadata(),
      spec: {
        targetRef: { group: POLICY_GROUP, kind: "Server", name },
        requiredAuthenticationRefs: [{ group: POLICY_GROUP, kind: "MeshTLSAuthentication", name }],
      },
    });
  }
  return objects;
}

/**
 * Annotations of a pod template. With the mesh on, the proxy is injected; with strict policy, ports without a
 * Server are denied too (kubelet probes stay allowed: Linkerd authorizes them while no HTTPRoute is defined).
 */
export function podMeshAnnotations(
  platform: GaiaPlatform,
  opaquePorts: number[] = [],
): Record<string, string> {
  const { linkerd } = platform.spec.mesh;
  if (!linkerd.enabled) return {};
  return {
    "linkerd.io/inject": "enabled",
    ...(linkerd.policy === "strict" ? { "config.linkerd.io/default-inbound-policy": "deny" } : {}),
    ...(opaquePorts.length > 0 ? { "config.linkerd.io/opaque-ports": opaquePorts.join(",") } : {}),
  };
}

/** A Job's pod: the proxy runs as a native sidecar so it exits with the Job's container and the Job can complete. */
export function jobMeshAnnotations(platform: GaiaPlatform): Record<string, string> {
  const annotations = podMeshAnnotations(platform);
  if (!platform.spec.mesh.linkerd.enabled) return annotations;
  return { ...annotations, "config.alpha.linkerd.io/proxy-enable-native-sidecar": "true" };
}

/**
 * NATS speaks first on its ports; meshed clients must skip protocol detection for them or stall on its 10 s
 * timeout. 4222 is not among Linkerd's default opaque ports (5432 and 6379 are).
 */
export function natsOpaquePorts(platform: GaiaPlatform): number[] {
  return natsClustered(platform) ? [DATASTORE_PORTS.nats, NATS_CLUSTER_PORT] : [DATASTORE_PORTS.nats];
}

/** Annotations of a Service whose ports are opaque, read by the clients' proxies. */
export function serviceMeshAnnotations(
  platform: GaiaPlatform,
  opaquePorts: number[],
): Record<string, string> {
  if (!platform.spec.mesh.linkerd.enabled || opaquePorts.length === 0) return {};
  return { "config.linkerd.io/opaque-ports": opaquePorts.join(",") };
}
