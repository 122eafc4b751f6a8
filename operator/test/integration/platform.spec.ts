import assert from "node:assert/strict";
import type { KubeConfig, KubernetesObject, V1Deployment, V1Job, V1Secret } from "@kubernetes/client-node";
import { freshNamespace, type TestNamespace } from "../../../test/controlplane/harness.ts";
import type { GaiaPlatform } from "../../src/api/types.ts";
import type { KubeClient } from "../../src/controller/client.ts";
import {
  CHILD_TYPES,
  DEPLOYMENT,
  JOB,
  PLATFORM,
  PVC,
  SECRET,
  typeOf,
} from "../../src/controller/resources.ts";
import type { RunningOperator } from "../../src/operator.ts";
import { desired } from "../../src/specs/desired.ts";
import { instanceSelector } from "../../src/specs/labels.ts";
import { manifestKey } from "../../src/specs/manifest.ts";
import {
  CONTROL_PLANE_START_TIMEOUT_MS,
  childWrites,
  controlPlane,
  deletePlatform,
  getPlatform,
  names,
  platformObject,
  runOperator,
  sleep,
  testClient,
  waitFor,
  waitReady,
} from "./support.ts";

/** One platform's life against a real API server: install, steady state, drift, config, upgrade, deletion. */
describe("operator against a real API server: a platform's life", function () {
  this.timeout(180_000);

  let kc: KubeConfig;
  let client: KubeClient;
  let ns: TestNamespace;
  let operator: RunningOperator;

  const SPEC = {
    mesh: { linkerd: { enabled: true, policy: "strict" } },
    nats: { managed: { replicas: 3 } },
    retainPolicy: "Delete",
  };
  const deployment = (name: string) => client.get<V1Deployment>(DEPLOYMENT, ns.name, name);
  const checksum = async (name: string) =>
    (await deployment(name))?.spec?.template.metadata?.annotations?.["gaia.dev/config-checksum"];

  before(async function () {
    this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
    kc = await controlPlane();
    client = testClient(kc);
    ns = await freshNamespace(kc, "op-life");
    await client.create(PLATFORM, platformObject(ns.name, SPEC));
    operator = await runOperator(kc, ns.name);
  });

  after(async () => {
    await operator?.stop();
    await ns?.cleanup();
  });

  it("becomes Ready under kwok, for the current generation, at the migrated image", async () => {
    const platform = await waitReady(client, ns.name);
    assert.equal(platform.status!.version, "0.1.0");
    assert.equal(platform.status!.migratedImage, "ghcr.io/example/gaia:0.1.0");
    assert.equal(platform.status!.gatewayURL, `http://gaia-gateway.${ns.name}.svc:8666`);
    assert.deepEqual(platform.status!.components!.nats, { ready: 3, desired: 3 });
    assert.deepEqual(
      platform.status!.components!.gateway,
      { ready: 2, desired: 2 },
      "the autoscaler's minimum",
    );
    assert.deepEqual(platform.metadata.finalizers, ["gaia.dev/finalizer"]);
    const gateway = await deployment("gaia-gateway");
    assert.equal(gateway!.status!.availableReplicas, 2);
  });

  it("tells what it did in Events and serves /metrics and /healthz", async () => {
    const events = await client.list<KubernetesObject & { reason: string; regarding: { kind: string } }>(
      { apiVersion: "events.k8s.io/v1", kind: "Event", plural: "events" },
      ns.name,
    );
    const reasons = new Set(
      events.items.filter((e) => e.regarding.kind === "GaiaPlatform").map((e) => e.reason),
    );
    for (const reason of ["SecretGenerated", "Applied", "MigrationStarted", "Migrated", "Pruned", "Ready"]) {
      assert.ok(reasons.has(reason), `an Event ${reason} among ${[...reasons].join(", ")}`);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${operator.metricsPort}/metrics`)).text();
    assert.match(metrics, /^gaia_operator_reconcile_total\{result="success"\} [1-9]/m);
    assert.match(metrics, /^gaia_operator_reconcile_duration_seconds_count [1-9]/m);
    assert.match(metrics, /^gaia_operator_queue_depth \d+/m);
    assert.match(metrics, /^gaia_operator_api_writes_total\{verb="apply",kind="Deployment"\} 6$/m);
    assert.match(metrics, /^gaia_operator_leader 1$/m);
    const health = await fetch(`http://127.0.0.1:${operator.metricsPort}/healthz`);
    assert.equal(health.status, 200);
  });

  it("creates exactly the desired children, each owned, labelled and stamped", async () => {
    const platform = (await getPlatform(client, ns.name))!;
    const want = desired(platform, { servicesImage: platform.status!.migratedImage, configChecksum: "-" });
    const expected = want.applied.map(manifestKey).sort();
    const found: string[] = [];
    for (const type of CHILD_TYPES) {
      for (const object of (await client.list(type, ns.name, instanceSelector(platform))).items) {
        const what = `${type.kind}/${object.metadata!.name}`;
        if (type.kind === "PersistentVolumeClaim" || type.kind === "Secret") continue;
        found.push(manifestKey({ ...object, apiVersion: type.apiVersion, kind: type.kind }));
        const owner = object.metadata!.ownerReferences?.find((r) => r.controller);
        assert.equal(owner?.uid, platform.metadata.uid, `${what} is controlled by the platform`);
        assert.equal(owner?.blockOwnerDeletion, true, what);
        assert.equal(object.metadata!.labels!["app.kubernetes.io/part-of"], "gaia", what);
        assert.match(object.metadata!.annotations?.["gaia.dev/applied-hash"] ?? "", /^[0-9a-f]{32}$/, what);
      }
    }
    assert.deepEqual(found.sort(), expected);
    assert.deepEqual(await names(client, SECRET, ns.name, instanceSelector(platform)), [
      "gaia-internal-token",
      "gaia-jwt",
      "gaia-nats-credentials",
      "gaia-nats-game-server",
      "gaia-postgres-credentials",
      "gaia-postgres-roles",
      "gaia-redis-credentials",
    ]);
    assert.deepEqual(await names(client, PVC, ns.name, instanceSelector(platform)), [
      "data-gaia-nats-0",
      "data-gaia-nats-1",
      "data-gaia-nats-2",
      "data-gaia-postgres-0",
      "data-gaia-redis-0",
      "gaia-asset-data",
      "gaia-kb-data",
    ]);
  });

  it("has its Linkerd policy accepted by Linkerd's CRDs, and its pods annotated for the mesh", async () => {
    const server = CHILD_TYPES.find((t) => t.kind === "Server")!;
    const servers = await names(client, server, ns.name);
    assert.equal(servers.length, 10, servers.join());
    const policies = await names(client, CHILD_TYPES.find((t) => t.kind === "AuthorizationPolicy")!, ns.name);
    assert.equal(policies.length, 8, "one per Server but the two entry points");
    const natsCluster = await client.get<
      KubernetesObject & { spec: { proxyProtocol: string; accessPolicy: string } }
    >(server, ns.name, "gaia-nats-cluster");
    assert.deepEqual([natsCluster!.spec.proxyProtocol, natsCluster!.spec.accessPolicy], ["opaque", "deny"]);
    const annotations = (await deployment("gaia-chat"))!.spec!.template.metadata!.annotations!;
    assert.equal(annotations["linkerd.io/inject"], "enabled");
    assert.equal(annotations["config.linkerd.io/default-inbound-policy"], "deny");
  });

  it("makes zero writes while nothing changes (resyncs every second)", async () => {
    const platform = await waitReady(client, ns.name);
    await sleep(2000);
    const before = await childWrites(operator);
    const versionBefore = (await getPlatform(client, ns.name))!.metadata.resourceVersion;
    await sleep(5000);
    assert.deepEqual(await childWrites(operator), before);
    assert.equal(
      (await getPlatform(client, ns.name))!.metadata.resourceVersion,
      versionBefore,
      "no status write either",
    );
    assert.ok(platform);
  });

  it("recreates a child someone deleted", async () => {
    const service = CHILD_TYPES.find((t) => t.kind === "Service")!;
    const old = (await client.get(service, ns.name, "gaia-auth"))!;
    await client.delete(service, ns.name, "gaia-auth");
    const again = await waitFor(
      async () => {
        const current = await client.get(service, ns.name, "gaia-auth");
        return current && current.metadata!.uid !== old.metadata!.uid && current;
      },
      { timeoutMs: 20_000, description: "Service gaia-auth to be recreated" },
    );
    assert.equal(again.metadata!.labels!["app.kubernetes.io/managed-by"], "gaia-operator");
  });

  it("restores the replicas of a Deployment someone scaled", async () => {
    await client.patch(
      DEPLOYMENT,
      ns.name,
      "gaia-auth",
      { spec: { replicas: 5 } },
      "application/merge-patch+json",
    );
    await waitFor(async () => (await deployment("gaia-auth"))?.spec?.replicas === 1, {
      timeoutMs: 20_000,
      description: "gaia-auth back at 1 replica",
    });
  });

  it("rolls the pods when configuration changes: the spec, and the data of a Secret it references", async () => {
    const initial = await checksum("gaia-chat");
    await client.create<V1Secret>(SECRET, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "llm-keys", namespace: ns.name },
      stringData: { openai: "sk-one" },
    });
    await client.patch(
      PLATFORM,
      ns.name,
      "gaia",
      { spec: { providers: { openai: { secretRef: { name: "llm-keys", key: "openai" } } } } },
      "application/merge-patch+json",
    );
    const afterSpec = await waitFor(
      async () => {
        const value = await checksum("gaia-chat");
        return value !== initial && value;
      },
      { timeoutMs: 20_000, description: "the checksum to follow the spec" },
    );
    const chat = (await deployment("gaia-chat"))!.spec!.template;
    assert.equal(chat.metadata!.annotations!["gaia.dev/config-checksum"], afterSpec);
    assert.deepEqual(
      chat.spec!.containers[0]!.env!.find((e) => e.name === "OPENAI_API_KEY"),
      { name: "OPENAI_API_KEY", valueFrom: { secretKeyRef: { name: "llm-keys", key: "openai" } } },
      `the template with checksum ${afterSpec} (initially ${initial}) has the key`,
    );

    await client.patch(
      SECRET,
      ns.name,
      "llm-keys",
      { stringData: { openai: "sk-two" } },
      "application/merge-patch+json",
    );
    await waitFor(
      async () => {
        const value = await checksum("gaia-chat");
        return value !== afterSpec && value;
      },
      { timeoutMs: 20_000, description: "the checksum to follow the Secret's data" },
    );
    const latest = await checksum("gaia-chat");
    await waitFor(async () => (await checksum("gaia-web")) === latest, {
      timeoutMs: 10_000,
      description: "every service to roll with the same checksum",
    });
    await waitReady(client, ns.name);
  });

  it("runs the new image's migration first and moves the services only when it succeeded", async () => {
    const quota = {
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "no-jobs", namespace: ns.name },
    };
    const quotaType = { apiVersion: "v1", kind: "ResourceQuota", plural: "resourcequotas" };
    await client.create(quotaType, { ...quota, spec: { hard: { "count/jobs.batch": "0" } } });
    await sleep(1000);
    await client.patch(
      PLATFORM,
      ns.name,
      "gaia",
      { spec: { image: { tag: "0.2.0" } } },
      "application/merge-patch+json",
    );

    // The Job cannot be created: the platform is Degraded and the services stay on 0.1.0.
    const stuck = await waitFor(
      async () => {
        const platform = await getPlatform(client, ns.name);
        const degraded = platform?.status?.conditions?.find((c) => c.type === "Degraded");
        return (
          degraded?.status === "True" &&
          platform?.status?.observedGeneration === platform?.metadata.generation &&
          platform
        );
      },
      { timeoutMs: 20_000, description: "the platform to report the blocked migration" },
    );
    assert.match(stuck.status!.conditions!.find((c) => c.type === "Degraded")!.message, /Job\/gaia-migrate-/);
    assert.equal(stuck.status!.version, "0.1.0");
    assert.equal(stuck.status!.migratedImage, "ghcr.io/example/gaia:0.1.0");
    await sleep(2000);
    for (const name of ["gaia-gateway", "gaia-auth", "gaia-web"]) {
      assert.equal(
        (await deployment(name))!.spec!.template.spec!.containers[0]!.image,
        "ghcr.io/example/gaia:0.1.0",
        name,
      );
    }

    await client.delete(quotaType, ns.name, "no-jobs");
    const upgraded = await waitFor(
      async () => {
        const platform = await getPlatform(client, ns.name);
        return platform?.status?.version === "0.2.0" && platform;
      },
      { timeoutMs: 60_000, description: "the services to run 0.2.0" },
    );
    assert.equal(upgraded.status!.migratedImage, "ghcr.io/example/gaia:0.2.0");
    assert.equal(
      (await deployment("gaia-kb"))!.spec!.template.spec!.containers[0]!.image,
      "ghcr.io/example/gaia:0.2.0",
    );
    await waitFor(async () => (await client.list<V1Job>(JOB, ns.name)).items.length === 0, {
      timeoutMs: 20_000,
      description: "the finished migration Job to be pruned",
    });
  });

  it("prunes children no longer wanted: the mesh policy when the mesh is switched off", async () => {
    const server = CHILD_TYPES.find((t) => t.kind === "Server")!;
    await client.patch(
      PLATFORM,
      ns.name,
      "gaia",
      { spec: { mesh: { linkerd: { enabled: false } } } },
      "application/merge-patch+json",
    );
    await waitFor(async () => (await names(client, server, ns.name)).length === 0, {
      timeoutMs: 20_000,
      description: "the Servers to be pruned",
    });
    const annotations = (await deployment("gaia-chat"))!.spec!.template.metadata!.annotations!;
    assert.equal(annotations["linkerd.io/inject"], undefined);
    await waitReady(client, ns.name);
  });

  it("on deletion with retainPolicy Delete removes its children and its volumes", async () => {
    const platform = (await getPlatform(client, ns.name)) as GaiaPlatform;
    await deletePlatform(client, ns.name);
    await waitFor(
      async () => (await names(client, DEPLOYMENT, ns.name, instanceSelector(platform))).length === 0,
      {
        timeoutMs: 60_000,
        description: "the garbage collector to delete the Deployments",
      },
    );
    await waitFor(async () => (await names(client, PVC, ns.name, instanceSelector(platform))).length === 0, {
      timeoutMs: 60_000,
      description: "the volume claims to go",
    });
    const configMaps = typeOf({ apiVersion: "v1", kind: "ConfigMap" });
    await waitFor(
      async () =>
        (await names(client, configMaps, ns.name, instanceSelector(platform))).length === 0 &&
        (await names(client, SECRET, ns.name, instanceSelector(platform))).length === 0,
      { timeoutMs: 30_000, description: "the ConfigMaps and generated Secrets to go" },
    );
  });
});
