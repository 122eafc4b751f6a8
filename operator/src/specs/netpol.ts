import type {
  V1LabelSelector,
  V1NetworkPolicyPeer,
  V1NetworkPolicyPort,
  V1ObjectMeta,
} from "@kubernetes/client-node";
import type { GaiaPlatform } from "../api/types.ts";
import { inboundPart, inbounds } from "./calls.ts";
import { childMeta, instanceLabels, selectorLabels } from "./labels.ts";
import type { Manifest } from "./manifest.ts";
import { LINKERD_INBOUND_PORT } from "./mesh.ts";

/**
 * Kubernetes NetworkPolicies (networking.k8s.io/v1) for the call graph of calls.ts, so that it holds without a
 * mesh too: every pod of the platform refuses ingress by default, and one policy per port a workload serves admits
 * exactly its callers, from this namespace (the entry points: anyone, from anywhere). Ingress only; mesh/POLICY.md
 * says why, and what reaches a pod regardless (its own node: the kubelet's probes).
 */

const API_VERSION = "networking.k8s.io/v1";

/** An ingress rule as the API reads it (client-node's class names the field `_from`). */
export interface IngressRule {
  from?: V1NetworkPolicyPeer[];
  ports?: V1NetworkPolicyPort[];
}

export interface NetworkPolicy extends Manifest {
  metadata: V1ObjectMeta;
  spec: {
    podSelector: V1LabelSelector;
    policyTypes: ("Ingress" | "Egress")[];
    ingress?: IngressRule[];
    egress?: unknown[];
  };
}

/** Empty when spec.networkPolicy.enabled is false. */
export function networkPolicies(platform: GaiaPlatform): NetworkPolicy[] {
  if (!platform.spec.networkPolicy.enabled) return [];
  // A meshed caller reaches a meshed pod on the proxy's inbound port, whichever port it dialled; Linkerd's own
  // policy then decides per port.
  const meshed = platform.spec.mesh.linkerd.enabled;
  const ports = (number: number): V1NetworkPolicyPort[] =>
    [number, ...(meshed ? [LINKERD_INBOUND_PORT] : [])].map((port) => ({ protocol: "TCP", port }));
  const denyAll: NetworkPolicy = {
    apiVersion: API_VERSION,
    kind: "NetworkPolicy",
    metadata: childMeta(platform, "default-deny", "gaia", "network-policy"),
    spec: { podSelector: { matchLabels: instanceLabels(platform) }, policyTypes: ["Ingress"] },
  };
  const allows = inbounds(platform).map(
    (inbound): NetworkPolicy => ({
      apiVersion: API_VERSION,
      kind: "NetworkPolicy",
      metadata: childMeta(platform, inboundPart(inbound), inbound.workload, "network-policy"),
      spec: {
        podSelector: { matchLabels: selectorLabels(platform, inbound.workload) },
        policyTypes: ["Ingress"],
        ingress: [
          {
            // No `from`: every source, in any namespace or outside the cluster. A podSelector alone means this
            // namespace only.
            ...(inbound.clients.length === 0
              ? {}
              : {
                  from: inbound.clients.map((client) => ({
                    podSelector: { matchLabels: selectorLabels(platform, client) },
                  })),
                }),
            ports: ports(inbound.number),
          },
        ],
      },
    }),
  );
  return [denyAll, ...allows];
}
