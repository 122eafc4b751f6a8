import assert from "node:assert/strict";
import type { KubeConfig } from "@kubernetes/client-node";
import { HttpMethod } from "@kubernetes/client-node";
import { freshNamespace, type TestNamespace } from "../../../test/controlplane/harness.ts";
import type { GaiaPlatform } from "../../src/api/types.ts";
import { ApiError, type KubeClient } from "../../src/controller/client.ts";
import { PLATFORM, resourcePath } from "../../src/controller/resources.ts";
import { readYamlDocuments } from "../support/crd.ts";
import { CONTROL_PLANE_START_TIMEOUT_MS, controlPlane, platformObject, testClient } from "./support.ts";

/** The CRD's schema and CEL rules, as the real API server enforces them (no operator needed). */
describe("operator against a real API server: the CRD rejects invalid platforms", function () {
  this.timeout(60_000);

  let kc: KubeConfig;
  let client: KubeClient;
  let ns: TestNamespace;

  before(async function () {
    this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
    kc = await controlPlane();
    client = testClient(kc);
    ns = await freshNamespace(kc, "op-valid");
  });

  after(async () => {
    await ns?.cleanup();
  });

  const rejects = async (promise: Promise<unknown>, message: RegExp) => {
    await assert.rejects(promise, (error: unknown) => {
      assert.ok(error instanceof ApiError, String(error));
      assert.equal(error.status, 422);
      assert.match(error.message, message);
      return true;
    });
  };
  const create = (spec: Record<string, unknown>, name = "gaia") =>
    client.create(PLATFORM, platformObject(ns.name, spec, name));

  for (const example of ["examples/gaiaplatform.yaml", "examples/gaiaplatform-production.yaml"]) {
    it(`accepts ${example}`, async () => {
      const [object] = readYamlDocuments(example) as GaiaPlatform[];
      await client.request(HttpMethod.POST, resourcePath(PLATFORM, ns.name), {
        body: { ...object, metadata: { ...object!.metadata, namespace: ns.name } },
        query: { dryRun: "All" },
      });
    });
  }

  it("keeps an external datastore's per-service Secret (not pruned as unknown)", async () => {
    const external = { secretRef: { name: "db", key: "url" }, serviceSecretRef: { name: "db-services" } };
    const created = (await create({ postgres: { external } }, "gaia-external")) as GaiaPlatform;
    assert.deepEqual(created.spec.postgres.external, external);
    await rejects(
      create({ postgres: { external: { ...external, serviceSecretRef: {} } } }, "gaia-external-2"),
      /serviceSecretRef\.name: Required value/,
    );
  });

  it("needs exactly one of managed or external per datastore", async () => {
    await rejects(
      create({ postgres: { managed: {}, external: { secretRef: { name: "db", key: "url" } } } }),
      /spec\.postgres: Invalid value: "object": set exactly one of managed or external/,
    );
    await rejects(create({ redis: {} }), /spec\.redis: .*set exactly one of managed or external/);
  });

  it("bounds replicas and autoscaling", async () => {
    await rejects(
      create({ services: { auth: { replicas: 101 } } }),
      /spec\.services\.auth\.replicas: Invalid value: 101/,
    );
    await rejects(
      create({ services: { gateway: { autoscaling: { minReplicas: 5, maxReplicas: 3 } } } }),
      /autoscaling\.minReplicas must not exceed autoscaling\.maxReplicas/,
    );
    await rejects(
      create({ nats: { managed: { replicas: 2 } } }),
      /nats\.managed\.replicas must be 1 or at least 3/,
    );
    await rejects(create({ postgres: { managed: { replicas: 2 } } }), /spec\.postgres\.managed\.replicas/);
  });

  it("keeps a single-volume knowledge base at one replica", async () => {
    await rejects(
      create({ services: { kb: { replicas: 2 } } }),
      /without kb\.git the knowledge base lives on a single volume/,
    );
  });

  it("keeps asset, whose files are on one volume, at one replica without autoscaling", async () => {
    const defaulted = (await create({}, "asset-default")) as GaiaPlatform;
    assert.deepEqual(defaulted.spec.assets, { storage: { size: "10Gi" } });
    assert.equal(defaulted.spec.services.asset.replicas, 1);
    assert.equal(defaulted.spec.services.asset.autoscaling, undefined);
    const sized = (await create(
      {
        assets: { storage: { size: "50Gi", storageClassName: "standard" } },
        services: { asset: { replicas: 0 } },
      },
      "asset-sized",
    )) as GaiaPlatform;
    assert.deepEqual(sized.spec.assets, { storage: { size: "50Gi", storageClassName: "standard" } });
    const message =
      /asset keeps its files on one volume \(spec\.assets\.storage\): services\.asset must run at most one replica and no autoscaling until S3 storage exists/;
    await rejects(create({ services: { asset: { replicas: 2 } } }), message);
    await rejects(
      create({ services: { asset: { autoscaling: { enabled: true, minReplicas: 1, maxReplicas: 3 } } } }),
      message,
    );
    await create({ services: { asset: { autoscaling: { enabled: false } } } }, "asset-fixed");
    await rejects(create({ assets: { storage: { size: "lots" } } }), /spec\.assets\.storage\.size/);
    await rejects(
      client.patch(
        PLATFORM,
        ns.name,
        "asset-sized",
        { spec: { assets: { storage: { storageClassName: "fast" } } } },
        "application/merge-patch+json",
      ),
      /storageClassName is immutable/,
    );
  });

  it("limits the platform's name, which prefixes every child", async () => {
    await rejects(create({}, `g${"a".repeat(40)}`), /metadata\.name must be at most 40 characters/);
  });

  it("keeps the storage class and size of a managed datastore once created", async () => {
    await create({ postgres: { managed: { storageClassName: "standard" } } }, "immutable");
    const patch = (managed: Record<string, unknown>) =>
      client.patch(
        PLATFORM,
        ns.name,
        "immutable",
        { spec: { postgres: { managed } } },
        "application/merge-patch+json",
      );
    await rejects(patch({ storageClassName: "fast" }), /storageClassName is immutable/);
    await rejects(
      patch({ storageClassName: null }),
      /storageClassName cannot be added or removed after creation/,
    );
    await rejects(
      patch({ storage: "20Gi" }),
      /storage is immutable; expand the PersistentVolumeClaim instead/,
    );
    await patch({ version: "17" });
  });
});
