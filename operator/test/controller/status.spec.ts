import assert from "node:assert/strict";
import type { V1Deployment, V1StatefulSet } from "@kubernetes/client-node";
import type { ServiceName } from "../../src/api/types.ts";
import type { Rollout } from "../../src/controller/rollout.ts";
import { computeStatus, type StatusInput, statusEqual } from "../../src/controller/status.ts";
import { makePlatform } from "../support/platform.ts";

const IMAGE = "ghcr.io/example/gaia:0.1.0";
const NOW = "2026-11-25T12:00:00.000Z";

function deployment(image: string, replicas: number, ready = replicas): V1Deployment {
  return {
    metadata: { generation: 2 },
    spec: { replicas, selector: {}, template: { spec: { containers: [{ name: "c", image }] } } },
    status: {
      observedGeneration: 2,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: ready,
      availableReplicas: ready,
    },
  };
}

function statefulSet(replicas: number, ready = replicas): V1StatefulSet {
  return {
    metadata: { generation: 1 },
    spec: { replicas, selector: {}, serviceName: "s", template: {} },
    status: { observedGeneration: 1, replicas, readyReplicas: ready, updatedReplicas: replicas },
  };
}

const allReady = (): Pick<StatusInput, "deployments" | "statefulSets"> => ({
  deployments: Object.fromEntries(
    (["gateway", "auth", "asset", "chat", "kb", "web"] as ServiceName[]).map((n) => [
      n,
      deployment(IMAGE, n === "gateway" ? 2 : 1),
    ]),
  ),
  statefulSets: { postgres: statefulSet(1), redis: statefulSet(1), nats: statefulSet(1) },
});

const settled: Rollout = { servicesImage: IMAGE, migratedImage: IMAGE };
const conditionOf = (status: ReturnType<typeof computeStatus>, type: string) =>
  status.conditions!.find((c) => c.type === type)!;

describe("controller/status", () => {
  const platform = makePlatform({}, { generation: 3 });
  const input = (over: Partial<StatusInput> = {}): StatusInput => ({
    rollout: settled,
    ...allReady(),
    changed: new Set(),
    problems: [],
    now: NOW,
    ...over,
  });

  it("is Ready with every workload available at the migrated image", () => {
    const status = computeStatus(platform, input());
    assert.equal(status.observedGeneration, 3);
    assert.equal(status.gatewayURL, "http://gaia-gateway.games.svc:8666");
    assert.equal(status.version, "0.1.0");
    assert.equal(status.migratedImage, IMAGE);
    assert.deepEqual(status.components, {
      gateway: { ready: 2, desired: 2 },
      auth: { ready: 1, desired: 1 },
      asset: { ready: 1, desired: 1 },
      chat: { ready: 1, desired: 1 },
      kb: { ready: 1, desired: 1 },
      web: { ready: 1, desired: 1 },
      postgres: { ready: 1, desired: 1 },
      redis: { ready: 1, desired: 1 },
      nats: { ready: 1, desired: 1 },
    });
    assert.deepEqual(
      status.conditions!.map((c) => [c.type, c.status, c.reason, c.observedGeneration, c.lastTransitionTime]),
      [
        ["Ready", "True", "Ready", 3, NOW],
        ["Progressing", "False", "Complete", 3, NOW],
        ["Degraded", "False", "AsExpected", 3, NOW],
      ],
    );
  });

  it("is Progressing while a Deployment rolls out or was just changed", () => {
    const slow = allReady();
    slow.deployments.chat = deployment(IMAGE, 2, 1);
    const rolling = computeStatus(platform, input(slow));
    assert.equal(conditionOf(rolling, "Ready").status, "False");
    assert.deepEqual(
      [conditionOf(rolling, "Progressing").status, conditionOf(rolling, "Progressing").reason],
      ["True", "RollingOut"],
    );
    assert.match(conditionOf(rolling, "Progressing").message, /chat/);
    const justApplied = computeStatus(platform, input({ changed: new Set(["Deployment/gaia-web"]) }));
    assert.equal(conditionOf(justApplied, "Ready").status, "False", "the cache predates the apply");
    const serviceApplied = computeStatus(platform, input({ changed: new Set(["Service/gaia-web"]) }));
    assert.equal(
      conditionOf(serviceApplied, "Ready").status,
      "True",
      "a Service does not hold the Deployment back",
    );
  });

  it("keeps the old version while the new image's pods are not out", () => {
    const previous = makePlatform({}, { status: { version: "0.0.9" } });
    const old = allReady();
    old.deployments.gateway = deployment("ghcr.io/example/gaia:0.0.9", 2);
    assert.equal(computeStatus(previous, input(old)).version, "0.0.9");
  });

  it("reports a running migration as Progressing/Migrating and a failed one as Degraded", () => {
    const running: Rollout = {
      servicesImage: IMAGE,
      migrationImage: "r:2",
      migratedImage: IMAGE,
      migration: { image: "r:2", phase: "Running", message: "migration Job j is running" },
    };
    const migrating = computeStatus(platform, input({ rollout: running }));
    assert.equal(conditionOf(migrating, "Progressing").reason, "Migrating");
    assert.equal(conditionOf(migrating, "Ready").status, "False");
    const failed = computeStatus(
      platform,
      input({ rollout: { ...running, migration: { ...running.migration!, phase: "Failed" } } }),
    );
    assert.deepEqual(
      [conditionOf(failed, "Degraded").status, conditionOf(failed, "Degraded").reason],
      ["True", "MigrationFailed"],
    );
    assert.equal(conditionOf(failed, "Progressing").status, "False");
    assert.equal(failed.version, "0.1.0", "the previous image keeps running");
  });

  it("is Degraded with the problems the reconcile met", () => {
    const status = computeStatus(
      platform,
      input({ problems: [{ reason: "SecretMissing", message: "Secret(s) llm not found" }] }),
    );
    assert.deepEqual(
      [
        conditionOf(status, "Degraded").status,
        conditionOf(status, "Degraded").reason,
        conditionOf(status, "Degraded").message,
      ],
      ["True", "SecretMissing", "Secret(s) llm not found"],
    );
    assert.equal(conditionOf(status, "Ready").status, "False");
  });

  it("keeps lastTransitionTime while a condition's status holds, so a resync computes an equal status", () => {
    const first = computeStatus(platform, input());
    const later = computeStatus({ ...platform, status: first }, input({ now: "2026-11-25T13:00:00.000Z" }));
    assert.ok(statusEqual(first, later), "no status write on a no-op resync");
    const broken = computeStatus(
      { ...platform, status: first },
      input({ problems: [{ reason: "X", message: "y" }], now: "T2" }),
    );
    assert.equal(conditionOf(broken, "Degraded").lastTransitionTime, "T2");
    assert.equal(conditionOf(broken, "Ready").lastTransitionTime, "T2");
  });

  it("is not Ready while the autoscaler has yet to raise a new Deployment to its minimum", () => {
    const young = allReady();
    young.deployments.gateway = deployment(IMAGE, 1);
    const status = computeStatus(platform, input(young));
    assert.deepEqual(status.components!.gateway, { ready: 1, desired: 2 });
    assert.equal(conditionOf(status, "Ready").status, "False");
    const scaledUp = allReady();
    scaledUp.deployments.gateway = deployment(IMAGE, 4);
    assert.deepEqual(computeStatus(platform, input(scaledUp)).components!.gateway, { ready: 4, desired: 4 });
  });

  it("counts autoscaled replicas from the Deployment, leaves external datastores out", () => {
    const external = makePlatform({ postgres: { external: { secretRef: { name: "db", key: "url" } } } });
    const status = computeStatus(external, input({ deployments: {} }));
    assert.deepEqual(status.components!.gateway, { ready: 0, desired: 2 });
    assert.equal(status.components!.postgres, undefined);
  });
});
