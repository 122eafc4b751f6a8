import { SERVICE_PORTS } from "@gaia/kit/registry";
import type { V1Deployment, V1StatefulSet } from "@kubernetes/client-node";
import {
  type Condition,
  type ConditionType,
  DATASTORE_NAMES,
  type DatastoreName,
  type GaiaPlatform,
  type GaiaPlatformStatus,
  SERVICE_NAMES,
  type ServiceName,
} from "../api/types.ts";
import { canonicalJson } from "../hash.ts";
import { childName } from "../specs/labels.ts";
import type { Rollout } from "./rollout.ts";

/** The platform's status from what was observed. Pure; the caller writes it only when it differs. */

/** Something that keeps the platform from being healthy, reported in the Degraded condition. */
export interface Problem {
  reason: string;
  message: string;
}

export interface StatusInput {
  rollout: Rollout;
  deployments: Partial<Record<ServiceName, V1Deployment>>;
  statefulSets: Partial<Record<DatastoreName, V1StatefulSet>>;
  /** "Kind/name" of objects applied in this reconcile: their cached state predates the change, so not ready yet. */
  changed: ReadonlySet<string>;
  problems: Problem[];
  /** RFC 3339, for conditions that change now. */
  now: string;
}

export function tagOf(image: string): string {
  return image.slice(image.lastIndexOf(":") + 1);
}

export function gatewayURL(platform: GaiaPlatform): string {
  return `http://${childName(platform, "gateway")}.${platform.metadata.namespace}.svc:${SERVICE_PORTS.gateway}`;
}

function deploymentReady(
  deployment: V1Deployment | undefined,
  want: number,
  image: string | undefined,
  changed: boolean,
): boolean {
  if (!deployment || !image || changed) return false;
  const s = deployment.status ?? {};
  return (
    deployment.spec?.template.spec?.containers[0]?.image === image &&
    (s.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0) &&
    (s.updatedReplicas ?? 0) >= want &&
    (s.availableReplicas ?? 0) >= want &&
    // Pods of the previous ReplicaSet are gone.
    (s.replicas ?? 0) <= (s.updatedReplicas ?? 0)
  );
}

function statefulSetReady(set: V1StatefulSet | undefined, changed: boolean): boolean {
  if (!set || changed) return false;
  const want = set.spec?.replicas ?? 1;
  const s = set.status;
  return (
    !!s &&
    (s.observedGeneration ?? 0) >= (set.metadata?.generation ?? 0) &&
    (s.readyReplicas ?? 0) >= want &&
    (s.updatedReplicas ?? 0) >= want
  );
}

/**
 * Pods a service should have: the Deployment's count, but with an autoscaler at least its minimum (a new
 * Deployment starts at one pod until the autoscaler raises it).
 */
function desiredReplicas(
  platform: GaiaPlatform,
  name: ServiceName,
  deployment: V1Deployment | undefined,
): number {
  const spec = platform.spec.services[name];
  if (spec.autoscaling?.enabled)
    return Math.max(deployment?.spec?.replicas ?? 0, spec.autoscaling.minReplicas);
  return deployment?.spec?.replicas ?? spec.replicas;
}

export function computeStatus(platform: GaiaPlatform, input: StatusInput): GaiaPlatformStatus {
  const { rollout, deployments, statefulSets, changed, problems } = input;
  const generation = platform.metadata.generation ?? 0;
  const previous = platform.status ?? {};

  const components: Record<string, { ready: number; desired: number }> = {};
  const notReady: string[] = [];
  for (const name of SERVICE_NAMES) {
    const deployment = deployments[name];
    const desired = desiredReplicas(platform, name, deployment);
    components[name] = { ready: deployment?.status?.readyReplicas ?? 0, desired };
    if (
      !deploymentReady(
        deployment,
        desired,
        rollout.servicesImage,
        changed.has(`Deployment/${childName(platform, name)}`),
      )
    ) {
      notReady.push(name);
    }
  }
  const servicesRolledOut = notReady.length === 0;
  for (const store of DATASTORE_NAMES) {
    if (!platform.spec[store].managed) continue;
    const set = statefulSets[store];
    components[store] = { ready: set?.status?.readyReplicas ?? 0, desired: set?.spec?.replicas ?? 1 };
    if (!statefulSetReady(set, changed.has(`StatefulSet/${childName(platform, store)}`)))
      notReady.push(store);
  }

  const migration = rollout.migration;
  const migrationFailed = migration?.phase === "Failed";
  const allProblems: Problem[] = [
    ...(migrationFailed
      ? [
          {
            reason: "MigrationFailed",
            message: `migration to ${migration.image} failed (${migration.message}); the services stay on the previous image. Delete the Job to retry, or change spec.image.tag`,
          },
        ]
      : []),
    ...problems,
  ];
  const ready = !migration && notReady.length === 0 && allProblems.length === 0;

  let progress: { reason: string; message: string };
  if (migration && !migrationFailed)
    progress = { reason: "Migrating", message: `${migration.message} (${migration.image})` };
  else if (notReady.length > 0)
    progress = { reason: "RollingOut", message: `waiting for ${notReady.join(", ")}` };
  else if (allProblems.length > 0)
    progress = { reason: allProblems[0]!.reason, message: allProblems[0]!.message };
  else
    progress = {
      reason: "Ready",
      message: `all components are ready at ${tagOf(rollout.servicesImage ?? "")}`,
    };

  const conditions: Condition[] = [
    condition(platform, "Ready", ready, ready ? "Ready" : progress.reason, progress.message, input.now),
    condition(
      platform,
      "Progressing",
      !ready && !migrationFailed,
      ready ? "Complete" : migrationFailed ? "MigrationFailed" : progress.reason,
      ready ? "the platform matches its spec" : progress.message,
      input.now,
    ),
    condition(
      platform,
      "Degraded",
      allProblems.length > 0,
      allProblems[0]?.reason ?? "AsExpected",
      allProblems.map((p) => p.message).join("; ") || "no problems",
      input.now,
    ),
  ];

  const status: GaiaPlatformStatus = {
    observedGeneration: generation,
    conditions,
    components,
    gatewayURL: gatewayURL(platform),
  };
  const version =
    servicesRolledOut && rollout.servicesImage ? tagOf(rollout.servicesImage) : previous.version;
  if (version) status.version = version;
  if (rollout.migratedImage) status.migratedImage = rollout.migratedImage;
  return status;
}

/** A condition keeps its lastTransitionTime while its status stays the same. */
function condition(
  platform: GaiaPlatform,
  type: ConditionType,
  value: boolean,
  reason: string,
  message: string,
  now: string,
): Condition {
  const status = value ? "True" : "False";
  const before = platform.status?.conditions?.find((c) => c.type === type);
  return {
    type,
    status,
    observedGeneration: platform.metadata.generation ?? 0,
    lastTransitionTime: before && before.status === status ? before.lastTransitionTime : now,
    reason,
    message,
  };
}

export function statusEqual(a: GaiaPlatformStatus | undefined, b: GaiaPlatformStatus): boolean {
  return canonicalJson(a ?? {}) === canonicalJson(b);
}
