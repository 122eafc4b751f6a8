import type { KubernetesObject, V1Job } from "@kubernetes/client-node";
import { FINALIZER, type GaiaPlatform } from "../api/types.ts";
import { configChecksum } from "../specs/configmap.ts";
import { desired } from "../specs/desired.ts";
import { type Manifest, manifestKey } from "../specs/manifest.ts";
import type { JwtMaterial } from "../specs/material.ts";
import { migrationJobName, specImage } from "../specs/migration.ts";
import { generatedSecretNames } from "../specs/secrets.ts";
import type { ChildCaches } from "./caches.ts";
import { isConflict, isNamespaceTerminating, type KubeClient } from "./client.ts";
import { eachConcurrently } from "./concurrently.ts";
import { needsApply, strategySwitch, withAppliedHash } from "./drift.ts";
import type { EventRecorder } from "./events.ts";
import { finalizeSteps } from "./finalizer.ts";
import { toPrune } from "./ownership.ts";
import { report, type Written } from "./report.ts";
import { CHILD_TYPES, JOB, PLATFORM, PVC, SECRET, STATEFULSET, typeOf } from "./resources.ts";
import { planRollout } from "./rollout.ts";
import { ensureGeneratedSecrets, readReferencedSecrets } from "./secrets.ts";
import type { Problem } from "./status.ts";

/** How many children of one platform are written at once. */
const APPLY_CONCURRENCY = 8;

/**
 * One reconcile of one platform: read the caches, build the desired children, write only what differs, prune what
 * is no longer wanted, report status. Everything it decides is decided by the pure modules; this is the wiring.
 */

export interface ReconcilerDeps {
  client: KubeClient;
  platform: (namespace: string, name: string) => GaiaPlatform | undefined;
  children: ChildCaches;
  /** Whether Linkerd's policy types can be written (their CRDs installed, their informers running). */
  linkerdAvailable: () => Promise<boolean>;
  recorder: EventRecorder;
  now: () => Date;
  material: { jwt: () => JwtMaterial; password: () => string; token: () => string };
}

export interface Outcome {
  /** Reconcile again after this long even without a change (something outside the watches is awaited). */
  requeueAfterMs?: number;
}

/** Written before any pod-making object: a pod needs these to start, and is never reachable unguarded. */
const isPodPrerequisite = (object: Manifest) =>
  object.kind === "ServiceAccount" || object.kind === "ConfigMap" || object.kind === "NetworkPolicy";

/** A Secret the user references is awaited this long before the next look. */
const MISSING_SECRET_RETRY_MS = 30_000;

const describe = (object: KubernetesObject) => `${object.kind}/${object.metadata?.name}`;

export class Reconciler {
  constructor(private readonly deps: ReconcilerDeps) {}

  async reconcile(key: string): Promise<Outcome> {
    const [namespace, name] = key.split("/") as [string, string];
    const platform = this.deps.platform(namespace, name);
    if (!platform) return {};
    if (platform.metadata.deletionTimestamp) {
      if (platform.metadata.finalizers?.includes(FINALIZER)) await this.finalize(platform);
      return {};
    }
    await this.ensureFinalizer(platform);

    const problems: Problem[] = [];
    const generated = await ensureGeneratedSecrets(this.deps, platform, problems);
    const referenced = await readReferencedSecrets(this.deps.client, platform, problems);
    const awaitingSecrets = problems.length > 0;

    const job = this.deps.children.get<V1Job>(
      JOB,
      namespace,
      migrationJobName(platform, specImage(platform)),
    );
    const rollout = planRollout(platform, job);
    const want = desired(platform, {
      servicesImage: rollout.servicesImage,
      migrationImage: rollout.migrationImage,
      configChecksum: configChecksum(platform, { ...generated, ...referenced }),
    });

    let applied = want.applied;
    if (applied.some((object) => typeOf(object).linkerd) && !(await this.deps.linkerdAvailable())) {
      applied = applied.filter((object) => !typeOf(object).linkerd);
      problems.push({
        reason: "LinkerdCRDsMissing",
        message: "spec.mesh.linkerd.policy is strict but Linkerd's policy CRDs are not installed",
      });
    }

    const written = await this.write(platform, applied, want.created, problems);
    const wanted = new Set([...want.applied, ...want.created].map(manifestKey));
    for (const secretName of generatedSecretNames(platform)) {
      wanted.add(manifestKey({ apiVersion: "v1", kind: "Secret", metadata: { name: secretName } }));
    }
    const pruned = await this.prune(platform, wanted);

    await report(this.deps, platform, rollout, written, pruned, problems);
    if (written.failed > 0) throw new Error(`${written.failed} object(s) could not be written; see status`);
    return awaitingSecrets ? { requeueAfterMs: MISSING_SECRET_RETRY_MS } : {};
  }

  /** Adds the finalizer; appending to the list (not replacing it) keeps other controllers' finalizers. */
  private async ensureFinalizer(platform: GaiaPlatform): Promise<void> {
    const finalizers = platform.metadata.finalizers;
    if (finalizers?.includes(FINALIZER)) return;
    const patch = finalizers
      ? [{ op: "add", path: "/metadata/finalizers/-", value: FINALIZER }]
      : [{ op: "add", path: "/metadata/finalizers", value: [FINALIZER] }];
    await this.deps.client.patch(
      PLATFORM,
      platform.metadata.namespace,
      platform.metadata.name,
      patch,
      "application/json-patch+json",
    );
  }

  private async write(
    platform: GaiaPlatform,
    applied: Manifest[],
    created: Manifest[],
    problems: Problem[],
  ): Promise<Written> {
    const { client, children } = this.deps;
    const namespace = platform.metadata.namespace;
    const result: Written = { created: [], updated: [], changed: new Set(), failed: 0 };
    const failures: string[] = [];
    let terminating: unknown;
    const applyOne = async (object: Manifest) => {
      const type = typeOf(object);
      const live = children.get(type, namespace, object.metadata!.name!);
      const withHash = withAppliedHash(object);
      if (!needsApply(withHash, live)) return;
      try {
        const strategy = strategySwitch(object, live);
        if (strategy)
          await client.patch(
            type,
            namespace,
            object.metadata!.name!,
            strategy,
            "application/merge-patch+json",
          );
        await client.apply(type, withHash);
        (live ? result.updated : result.created).push(describe(object));
        result.changed.add(describe(object));
      } catch (error) {
        if (isNamespaceTerminating(error)) terminating = error;
        result.failed += 1;
        failures.push(`${describe(object)}: ${(error as Error).message}`);
      }
    };
    const createAll = async () => {
      for (const object of created) {
        const type = typeOf(object);
        if (children.get(type, namespace, object.metadata!.name!)) continue;
        try {
          await client.create(type, object);
          result.created.push(describe(object));
          if (object.kind === "Job") {
            await this.deps.recorder.record(
              platform,
              "Normal",
              "MigrationStarted",
              "Create",
              `running gaia db migrate for ${specImage(platform)} in Job ${object.metadata!.name}`,
            );
          }
        } catch (error) {
          if (isConflict(error)) continue;
          if (isNamespaceTerminating(error)) terminating = error;
          result.failed += 1;
          failures.push(`${describe(object)}: ${(error as Error).message}`);
        }
      }
    };
    // Children are applied a few at a time (one by one, ~60 objects cost a round trip each). A pod is not
    // admitted without its ServiceAccount, does not start without its ConfigMap, and must not run before the
    // NetworkPolicies that guard it: with those written first, the migration Job, whose success the Deployments
    // wait for, starts while the other children are written.
    const first = applied.filter(isPodPrerequisite);
    await eachConcurrently(first, APPLY_CONCURRENCY, applyOne);
    await Promise.all([
      eachConcurrently(
        applied.filter((object) => !isPodPrerequisite(object)),
        APPLY_CONCURRENCY,
        applyOne,
      ),
      createAll(),
    ]);
    if (terminating) throw terminating;
    if (failures.length > 0) problems.push({ reason: "ApplyFailed", message: failures.join("; ") });
    return result;
  }

  private async prune(platform: GaiaPlatform, wanted: ReadonlySet<string>): Promise<string[]> {
    const pruned: string[] = [];
    for (const type of CHILD_TYPES) {
      for (const object of toPrune(
        platform,
        this.deps.children.list(type, platform.metadata.namespace),
        wanted,
      )) {
        await this.deps.client.delete(type, platform.metadata.namespace, object.metadata!.name!);
        pruned.push(describe(object));
      }
    }
    return pruned;
  }

  /** Deletion: handle the volumes and generated Secrets per retainPolicy, then let the platform go. */
  private async finalize(platform: GaiaPlatform): Promise<void> {
    const { children, client, recorder } = this.deps;
    const namespace = platform.metadata.namespace;
    const generatedNames = new Set(generatedSecretNames(platform));
    const steps = finalizeSteps(platform, {
      statefulSets: children.list(STATEFULSET, namespace),
      claims: children.list(PVC, namespace),
      generatedSecrets: children
        .list(SECRET, namespace)
        .filter((s) => generatedNames.has(s.metadata?.name ?? "")),
    });
    const done: string[] = [];
    for (const step of steps) {
      switch (step.action) {
        case "deleteStatefulSet":
          await client.delete(STATEFULSET, namespace, step.name);
          break;
        case "deleteClaim":
          await client.delete(PVC, namespace, step.name);
          done.push(`deleted PersistentVolumeClaim/${step.name}`);
          break;
        case "releaseSecret":
          await client.patch(
            SECRET,
            namespace,
            step.name,
            { metadata: { ownerReferences: null } },
            "application/merge-patch+json",
          );
          done.push(`kept Secret/${step.name}`);
          break;
        case "removeFinalizer": {
          const index = platform.metadata.finalizers?.indexOf(FINALIZER) ?? -1;
          if (done.length > 0 || platform.spec.retainPolicy === "Retain") {
            await recorder.record(
              platform,
              "Normal",
              platform.spec.retainPolicy === "Delete" ? "VolumesDeleted" : "VolumesRetained",
              "Delete",
              done.length > 0 ? done.join(", ") : "volumes kept (retainPolicy Retain)",
            );
          }
          await client.patch(
            PLATFORM,
            namespace,
            platform.metadata.name,
            [
              { op: "test", path: `/metadata/finalizers/${index}`, value: FINALIZER },
              { op: "remove", path: `/metadata/finalizers/${index}` },
            ],
            "application/json-patch+json",
          );
          break;
        }
      }
    }
  }
}
