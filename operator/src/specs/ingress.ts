import { SERVICE_PORTS } from "@gaia/kit/registry";
import type { V1Ingress } from "@kubernetes/client-node";
import type { GaiaPlatform } from "../api/types.ts";
import { childMeta, childName } from "./labels.ts";
import { serviceComponent } from "./services.ts";

/** An Ingress for the gateway and for web when spec.exposure.<name>.ingress asks for one. */
export function ingresses(platform: GaiaPlatform): V1Ingress[] {
  return (["gateway", "web"] as const).flatMap((name) => {
    const ingress = platform.spec.exposure[name].ingress;
    if (!ingress) return [];
    const object: V1Ingress = {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: childMeta(platform, name, name, serviceComponent(name)),
      spec: {
        ...(ingress.className ? { ingressClassName: ingress.className } : {}),
        ...(ingress.tlsSecretName
          ? { tls: [{ hosts: [ingress.host], secretName: ingress.tlsSecretName }] }
          : {}),
        rules: [
          {
            host: ingress.host,
            http: {
              paths: [
                {
                  path: "/",
                  pathType: "Prefix",
                  backend: {
                    service: { name: childName(platform, name), port: { number: SERVICE_PORTS[name] } },
                  },
                },
              ],
            },
          },
        ],
      },
    };
    return [object];
  });
}
