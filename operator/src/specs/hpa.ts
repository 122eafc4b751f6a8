import type { V2HorizontalPodAutoscaler } from "@kubernetes/client-node";
import { type GaiaPlatform, SERVICE_NAMES } from "../api/types.ts";
import { childMeta, childName } from "./labels.ts";
import { serviceComponent } from "./services.ts";

/**
 * A HorizontalPodAutoscaler (autoscaling/v2, CPU utilization) for each service whose autoscaling is enabled; the
 * CRD enables it by default for the gateway (2-10) and chat (1-5). Only built once the Deployments exist.
 */
export function autoscalers(platform: GaiaPlatform): V2HorizontalPodAutoscaler[] {
  return SERVICE_NAMES.flatMap((name) => {
    const autoscaling = platform.spec.services[name].autoscaling;
    if (!autoscaling?.enabled) return [];
    const hpa: V2HorizontalPodAutoscaler = {
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: childMeta(platform, name, name, serviceComponent(name)),
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: childName(platform, name) },
        minReplicas: autoscaling.minReplicas,
        maxReplicas: autoscaling.maxReplicas,
        metrics: [
          {
            type: "Resource",
            resource: {
              name: "cpu",
              target: { type: "Utilization", averageUtilization: autoscaling.targetCPUUtilization },
            },
          },
        ],
      },
    };
    return [hpa];
  });
}
