import type { V1PodDisruptionBudget } from "@kubernetes/client-node";
import { type GaiaPlatform, SERVICE_NAMES } from "../api/types.ts";
import { childMeta, selectorLabels } from "./labels.ts";
import { natsClustered } from "./ports.ts";
import { serviceComponent } from "./services.ts";

/**
 * PodDisruptionBudgets: node drains take at most one pod of a service (or of a NATS cluster) at a time.
 * maxUnavailable rather than minAvailable, so a single-replica service never blocks a drain.
 */
export function disruptionBudgets(platform: GaiaPlatform): V1PodDisruptionBudget[] {
  const budgets = SERVICE_NAMES.map(
    (name): V1PodDisruptionBudget => ({
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: childMeta(platform, name, name, serviceComponent(name)),
      spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(platform, name) } },
    }),
  );
  if (natsClustered(platform)) {
    budgets.push({
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: childMeta(platform, "nats", "nats", "messaging"),
      spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(platform, "nats") } },
    });
  }
  return budgets;
}
