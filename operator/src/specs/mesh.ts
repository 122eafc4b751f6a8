import type { GaiaPlatform } from "../api/types.ts";
import { inboundPart, inbounds } from "./calls.ts";
import { childMeta, selectorLabels } from "./labels.ts";
import type { Manifest } from "./manifest.ts";
import { DATASTORE_PORTS, NATS_CLUSTER_PORT, natsClustered } from "./ports.ts";
import { serviceAccountName } from "./workload.ts";

/**
 * Linkerd: pod annotations, and with policy `strict` the authorization objects that allow exactly the calls the
 * platform makes (calls.ts): a Server per port a workload serves, and for all but the entry points the
 * identities of its callers.
 */

/**
 * The proxy's inbound port. A meshed client sends every connection to a meshed pod here, whatever port it asked
 * for; the proxy hands it on to that port.
 */
export const LINKERD_INBOUND_PORT = 4143;

const POLICY_GROUP = "policy.linkerd.io";
const SERVER_API = `${POLICY_GROUP}/v1beta3`;
const AUTHN_API = `${POLICY_GROUP}/v1alpha1`;

/** Server + MeshTLSAuthentication + AuthorizationPolicy per port; empty unless the mesh is on with policy strict. */
export function meshPolicy(platform: GaiaPlatform): Manifest[] {
  const { linkerd } = platform.spec.mesh;
  if (!linkerd.enabled || linkerd.policy !== "strict") return [];
  const objects: Manifest[] = [];
  for (const inbound of inbounds(platform)) {
    const part = inboundPart(inbound);
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
