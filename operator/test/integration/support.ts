import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { createLogger } from "@gaia/kit/log";
import { type KubeConfig, type KubernetesObject, loadAllYaml } from "@kubernetes/client-node";
import {
  applyObjects,
  CONTROL_PLANE_START_TIMEOUT_MS,
  REPO_ROOT,
  startControlPlane,
  waitFor,
  waitForCrd,
} from "../../../test/controlplane/harness.ts";
import type { GaiaPlatform } from "../../src/api/types.ts";
import { KubeClient } from "../../src/controller/client.ts";
import { PLATFORM, type ResourceType, SECRET } from "../../src/controller/resources.ts";
import { type OperatorOptions, type RunningOperator, startOperator } from "../../src/operator.ts";

/** The control plane with Gaia's and Linkerd's CRDs installed, and the operator run in-process against it. */

export { sleep } from "../../../test/support/wait.ts";
export { CONTROL_PLANE_START_TIMEOUT_MS, waitFor };

function crdsIn(file: string): KubernetesObject[] {
  return (loadAllYaml(readFileSync(file, "utf8")) as KubernetesObject[]).filter(
    (o) => o?.kind === "CustomResourceDefinition",
  );
}

let installed: Promise<KubeConfig> | undefined;

/** Starts (or reuses) the control plane and installs the CRDs, once per process. */
export function controlPlane(): Promise<KubeConfig> {
  installed ??= (async () => {
    const kc = await startControlPlane();
    const linkerdDir = path.join(REPO_ROOT, "test/controlplane/linkerd-crds");
    const crds = [
      ...crdsIn(path.join(REPO_ROOT, "crds/gaia.dev_gaiaplatforms.yaml")),
      ...readdirSync(linkerdDir)
        .filter((f) => f.endsWith(".yaml"))
        .flatMap((f) => crdsIn(path.join(linkerdDir, f))),
    ];
    await applyObjects(kc, crds);
    for (const crd of crds) await waitForCrd(kc, crd.metadata!.name!);
    return kc;
  })();
  return installed;
}

/** Quick settings for tests: a short lease, a resync every second, little back-off, quiet logs. */
export function runOperator(
  kc: KubeConfig,
  namespace: string,
  options: Partial<OperatorOptions> = {},
): Promise<RunningOperator> {
  return startOperator({
    kubeConfig: kc,
    namespace,
    leaseNamespace: namespace,
    metricsPort: 0,
    resyncSeconds: 1,
    leaseDurationSeconds: 3,
    renewDeadlineSeconds: 2,
    retryPeriodSeconds: 0.5,
    backoff: { baseMs: 200, maxMs: 2000 },
    logger: createLogger("gaia-operator-test", process.env.GAIA_TEST_OPERATOR_LOG ?? "silent"),
    ...options,
  });
}

export function platformObject(
  namespace: string,
  spec: Record<string, unknown>,
  name = "gaia",
): GaiaPlatform {
  return {
    apiVersion: "gaia.dev/v1alpha1",
    kind: "GaiaPlatform",
    metadata: { name, namespace } as GaiaPlatform["metadata"],
    spec: { image: { repository: "ghcr.io/example/gaia", tag: "0.1.0" }, ...spec } as GaiaPlatform["spec"],
  };
}

/** A client of the test itself (its writes are not the operator's). */
export function testClient(kc: KubeConfig): KubeClient {
  return new KubeClient(kc);
}

export function getPlatform(
  client: KubeClient,
  namespace: string,
  name = "gaia",
): Promise<GaiaPlatform | undefined> {
  return client.get<GaiaPlatform>(PLATFORM, namespace, name);
}

/** Waits until the platform is Ready for its current generation, and returns it. */
export async function waitReady(
  client: KubeClient,
  namespace: string,
  name = "gaia",
  timeoutMs = 90_000,
): Promise<GaiaPlatform> {
  return waitFor(
    async () => {
      const platform = await getPlatform(client, namespace, name);
      const ready = platform?.status?.conditions?.find((c) => c.type === "Ready");
      return (
        platform?.status?.observedGeneration === platform?.metadata.generation &&
        ready?.status === "True" &&
        ready.observedGeneration === platform?.metadata.generation &&
        platform
      );
    },
    { timeoutMs, description: `GaiaPlatform ${namespace}/${name} to be Ready` },
  );
}

/** Deletes a platform and waits until its operator has finalized it and it is gone, so its namespace can go. */
export async function deletePlatform(client: KubeClient, namespace: string, name = "gaia"): Promise<void> {
  await client.delete(PLATFORM, namespace, name);
  await waitFor(async () => !(await getPlatform(client, namespace, name)), {
    timeoutMs: 30_000,
    description: `GaiaPlatform ${namespace}/${name} to go`,
  });
}

export async function names(
  client: KubeClient,
  type: ResourceType,
  namespace: string,
  labelSelector?: string,
): Promise<string[]> {
  return (await client.list(type, namespace, labelSelector)).items.map((o) => o.metadata!.name!).sort();
}

/** The operator's writes so far, by kind, without the Lease renewals and Events that happen regardless. */
export async function childWrites(operator: RunningOperator): Promise<Record<string, number>> {
  const counts = await operator.metrics.writeCounts();
  delete counts.Lease;
  delete counts.Event;
  return counts;
}

/**
 * External Postgres, Redis and NATS for a platform that never reaches them (kwok runs no containers): a Secret
 * "datastores" with URLs in the namespace, and the spec fields that reference it. Such a platform uses no
 * datastore volume (asset's claim it still has).
 */
export async function externalDatastores(
  client: KubeClient,
  namespace: string,
  password = "unused",
): Promise<
  Record<"postgres" | "redis" | "nats", { external: { secretRef: { name: string; key: string } } }>
> {
  await client.create(SECRET, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "datastores", namespace },
    stringData: {
      postgres: `postgresql://gaia:${password}@postgres.invalid:5432/gaia`,
      redis: "redis://redis.invalid:6379",
      nats: "nats://nats.invalid:4222",
    },
  });
  const store = (key: string) => ({ external: { secretRef: { name: "datastores", key } } });
  return { postgres: store("postgres"), redis: store("redis"), nats: store("nats") };
}
