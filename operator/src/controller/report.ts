import type { V1Deployment, V1StatefulSet } from "@kubernetes/client-node";
import {
  DATASTORE_NAMES,
  type DatastoreName,
  type GaiaPlatform,
  SERVICE_NAMES,
  type ServiceName,
} from "../api/types.ts";
import { childName } from "../specs/labels.ts";
import type { ChildCaches } from "./caches.ts";
import type { KubeClient } from "./client.ts";
import type { EventRecorder } from "./events.ts";
import { DEPLOYMENT, PLATFORM, STATEFULSET } from "./resources.ts";
import type { Rollout } from "./rollout.ts";
import { computeStatus, type Problem, statusEqual } from "./status.ts";

/**
 * The end of a reconcile: the status from the caches, written only when it differs, and Events for what was
 * done and for what changed (Ready reached, Degraded entered, an image migrated).
 */

export interface ReportDeps {
  client: KubeClient;
  children: ChildCaches;
  recorder: EventRecorder;
  now: () => Date;
}

/** What the reconcile wrote, as "Kind/name". */
export interface Written {
  created: string[];
  updated: string[];
  /** "Kind/name" of the objects applied: their cached state predates the write. */
  changed: Set<string>;
  failed: number;
}

export async function report(
  deps: ReportDeps,
  platform: GaiaPlatform,
  rollout: Rollout,
  written: Written,
  pruned: string[],
  problems: Problem[],
): Promise<void> {
  const { children, client, recorder } = deps;
  const namespace = platform.metadata.namespace;
  const deployments: Partial<Record<ServiceName, V1Deployment>> = {};
  for (const name of SERVICE_NAMES) {
    deployments[name] = children.get<V1Deployment>(DEPLOYMENT, namespace, childName(platform, name));
  }
  const statefulSets: Partial<Record<DatastoreName, V1StatefulSet>> = {};
  for (const name of DATASTORE_NAMES) {
    statefulSets[name] = children.get<V1StatefulSet>(STATEFULSET, namespace, childName(platform, name));
  }
  const status = computeStatus(platform, {
    rollout,
    deployments,
    statefulSets,
    changed: written.changed,
    problems,
    now: deps.now().toISOString(),
  });

  const changes = [
    written.created.length > 0 ? `created ${written.created.join(", ")}` : "",
    written.updated.length > 0 ? `updated ${written.updated.join(", ")}` : "",
  ].filter(Boolean);
  if (changes.length > 0) await recorder.record(platform, "Normal", "Applied", "Apply", changes.join("; "));
  if (pruned.length > 0)
    await recorder.record(platform, "Normal", "Pruned", "Delete", `deleted ${pruned.join(", ")}`);

  if (statusEqual(platform.status, status)) return;
  await client.patch(
    PLATFORM,
    namespace,
    platform.metadata.name,
    // The whole status is replaced: a merge patch would keep the component of a datastore gone external.
    [{ op: "add", path: "/status", value: status }],
    "application/json-patch+json",
    "status",
  );

  const before = (type: string) => platform.status?.conditions?.find((c) => c.type === type);
  const after = (type: string) => status.conditions?.find((c) => c.type === type);
  if (status.migratedImage && status.migratedImage !== platform.status?.migratedImage) {
    await recorder.record(
      platform,
      "Normal",
      "Migrated",
      "Migrate",
      `database migrated for ${status.migratedImage}`,
    );
  }
  const ready = after("Ready");
  if (ready?.status === "True" && before("Ready")?.status !== "True") {
    await recorder.record(platform, "Normal", "Ready", "Reconcile", ready.message);
  }
  const degraded = after("Degraded");
  const wasDegraded = before("Degraded");
  if (
    degraded?.status === "True" &&
    (wasDegraded?.status !== "True" || wasDegraded.reason !== degraded.reason)
  ) {
    await recorder.record(platform, "Warning", degraded.reason, "Reconcile", degraded.message);
  }
}
