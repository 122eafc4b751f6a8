import assert from "node:assert/strict";
import type { KubeConfig, V1Deployment, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { freshNamespace, type TestNamespace } from "../../../test/controlplane/harness.ts";
import { ApiError, type KubeClient } from "../../src/controller/client.ts";
import { DEPLOYMENT, PLATFORM, PVC } from "../../src/controller/resources.ts";
import type { RunningOperator } from "../../src/operator.ts";
import { desired } from "../../src/specs/desired.ts";
import { instanceSelector } from "../../src/specs/labels.ts";
import {
  CONTROL_PLANE_START_TIMEOUT_MS,
  controlPlane,
  deletePlatform,
  externalDatastores,
  getPlatform,
  names,
  platformObject,
  runOperator,
  sleep,
  testClient,
  waitFor,
  waitReady,
} from "./support.ts";

/** The asset service's files on the claim <platform>-asset-data, against a real API server. */
describe("operator against a real API server: the asset claim", function () {
  this.timeout(180_000);

  let kc: KubeConfig;
  let client: KubeClient;
  let ns: TestNamespace;
  let operator: RunningOperator;

  const claim = () => client.get<V1PersistentVolumeClaim>(PVC, ns.name, "gaia-asset-data");
  const asset = () => client.get<V1Deployment>(DEPLOYMENT, ns.name, "gaia-asset");
  const patchSpec = (spec: Record<string, unknown>) =>
    client.patch(PLATFORM, ns.name, "gaia", { spec }, "application/merge-patch+json");

  before(async function () {
    this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
    kc = await controlPlane();
    client = testClient(kc);
    ns = await freshNamespace(kc, "op-asset");
    // External datastores and a Git-backed kb: the asset claim is the platform's only volume.
    const datastores = await externalDatastores(client, ns.name);
    await client.create(
      PLATFORM,
      platformObject(ns.name, {
        ...datastores,
        mesh: { linkerd: { enabled: false } },
        kb: { git: { url: "https://git.example/kb.git" } },
        assets: { storage: { size: "2Gi", storageClassName: "standard" } },
        retainPolicy: "Delete",
      }),
    );
    operator = await runOperator(kc, ns.name);
  });

  after(async () => {
    await operator?.stop();
    await ns?.cleanup();
  });

  it("accepts spec.assets.storage and creates the unowned, labelled claim, Bound", async () => {
    const platform = await waitReady(client, ns.name);
    assert.deepEqual(platform.spec.assets, { storage: { size: "2Gi", storageClassName: "standard" } });
    assert.deepEqual(await names(client, PVC, ns.name, instanceSelector(platform)), ["gaia-asset-data"]);
    const bound = await waitFor(
      async () => {
        const current = await claim();
        return current?.status?.phase === "Bound" && current;
      },
      { timeoutMs: 30_000, description: "gaia-asset-data to be Bound" },
    );
    assert.deepEqual(bound.metadata!.ownerReferences ?? [], [], "the garbage collector must not take it");
    assert.equal(bound.metadata!.labels!["app.kubernetes.io/name"], "asset");
    assert.equal(bound.metadata!.labels!["app.kubernetes.io/component"], "storage");
    assert.deepEqual(bound.spec!.accessModes, ["ReadWriteOnce"]);
    assert.equal(bound.spec!.storageClassName, "standard");
    assert.equal(bound.spec!.resources!.requests!.storage, "2Gi");
  });

  it("runs asset on it: one replica, Recreate, mounted at GAIA_DATA_DIR", async () => {
    const spec = (await asset())!.spec!;
    assert.equal(spec.replicas, 1);
    assert.deepEqual(spec.strategy, { type: "Recreate" });
    assert.deepEqual(
      spec.template.spec!.volumes!.find((v) => v.name === "data"),
      { name: "data", persistentVolumeClaim: { claimName: "gaia-asset-data" } },
    );
    assert.equal(
      spec.template.spec!.containers[0]!.volumeMounts!.find((m) => m.name === "data")?.mountPath,
      "/var/lib/gaia",
    );
  });

  it("moves an asset Deployment of an older operator (RollingUpdate, emptyDir) onto the claim", async () => {
    // What an operator before spec.assets.storage applied, with the same field manager. The API server then
    // defaults a rollingUpdate no manager owns, which server-side apply alone cannot drop to switch to Recreate.
    const platform = (await getPlatform(client, ns.name))!;
    const live = (await asset())!;
    const { applied } = desired(platform, {
      servicesImage: platform.status!.migratedImage,
      configChecksum: live.spec!.template.metadata!.annotations!["gaia.dev/config-checksum"]!,
    });
    const old = structuredClone(
      applied.find((o) => o.kind === "Deployment" && o.metadata?.name === "gaia-asset"),
    )!;
    const oldSpec = (old as V1Deployment).spec!;
    delete oldSpec.strategy;
    oldSpec.template.spec!.volumes = [
      { name: "tmp", emptyDir: {} },
      { name: "data", emptyDir: {} },
    ];
    await client.apply(DEPLOYMENT, old);
    const before = (await asset())!;
    assert.equal(before.spec!.strategy!.type, "RollingUpdate");
    assert.ok(before.spec!.strategy!.rollingUpdate, "defaulted by the API server");
    const moved = await waitFor(
      async () => {
        const current = await asset();
        return (
          current?.spec?.strategy?.type === "Recreate" &&
          current.spec.template.spec!.volumes!.some((v) => v.persistentVolumeClaim) &&
          current
        );
      },
      { timeoutMs: 20_000, description: "gaia-asset back on Recreate and its claim" },
    );
    assert.deepEqual(moved.spec!.strategy, { type: "Recreate" }, "no rollingUpdate left over");
    assert.deepEqual(
      moved.spec!.template.spec!.volumes!.find((v) => v.name === "data"),
      { name: "data", persistentVolumeClaim: { claimName: "gaia-asset-data" } },
      "the emptyDir is gone",
    );
    await waitReady(client, ns.name);
    const degraded = (await getPlatform(client, ns.name))!.status!.conditions!.find(
      (c) => c.type === "Degraded",
    );
    assert.equal(degraded?.status, "False", degraded?.message);
  });

  it("refuses a second asset replica, an autoscaler or another storage class; allows zero replicas", async () => {
    const refused = async (spec: Record<string, unknown>) =>
      assert.rejects(patchSpec(spec), (error: unknown) => {
        assert.ok(error instanceof ApiError, String(error));
        assert.equal(error.status, 422);
        assert.match(
          error.message,
          /asset keeps its files on one volume \(spec\.assets\.storage\): services\.asset must run at most one replica and no autoscaling until S3 storage exists/,
        );
        return true;
      });
    await refused({ services: { asset: { replicas: 2 } } });
    await refused({ services: { asset: { autoscaling: { maxReplicas: 3 } } } });
    await assert.rejects(
      patchSpec({ assets: { storage: { storageClassName: "fast" } } }),
      /storageClassName is immutable/,
    );
    await patchSpec({ services: { asset: { replicas: 0 } } });
    await waitFor(async () => (await asset())?.spec?.replicas === 0, {
      timeoutMs: 20_000,
      description: "gaia-asset scaled to zero",
    });
    await patchSpec({ services: { asset: { replicas: 1 } } });
  });

  it("creates the claim once and leaves it alone: a new size does not touch it", async () => {
    const before = (await claim())!;
    await patchSpec({ assets: { storage: { size: "5Gi" } } });
    await waitReady(client, ns.name);
    await sleep(2000);
    const after = (await claim())!;
    assert.equal(after.metadata!.uid, before.metadata!.uid);
    assert.equal(after.metadata!.resourceVersion, before.metadata!.resourceVersion);
    assert.equal(after.spec!.resources!.requests!.storage, "2Gi");
  });

  it("with retainPolicy Delete takes the claim with the platform", async () => {
    const platform = (await getPlatform(client, ns.name))!;
    await deletePlatform(client, ns.name);
    await waitFor(async () => (await names(client, PVC, ns.name, instanceSelector(platform))).length === 0, {
      timeoutMs: 60_000,
      description: "gaia-asset-data to go",
    });
  });
});
