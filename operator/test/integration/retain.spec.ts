import assert from "node:assert/strict";
import type { KubeConfig, V1Secret } from "@kubernetes/client-node";
import { freshNamespace, type TestNamespace } from "../../../test/controlplane/harness.ts";
import type { KubeClient } from "../../src/controller/client.ts";
import { PLATFORM, PVC, SECRET, STATEFULSET } from "../../src/controller/resources.ts";
import type { RunningOperator } from "../../src/operator.ts";
import {
  CONTROL_PLANE_START_TIMEOUT_MS,
  controlPlane,
  deletePlatform,
  getPlatform,
  names,
  platformObject,
  runOperator,
  testClient,
  waitFor,
  waitReady,
} from "./support.ts";

/** retainPolicy Retain: deleting the platform keeps its data, and a platform of the same name takes it up again. */
describe("operator against a real API server: retained volumes and Secrets", function () {
  this.timeout(180_000);

  let kc: KubeConfig;
  let client: KubeClient;
  let ns: TestNamespace;
  let operator: RunningOperator;
  // A Git remote keeps the kb off a volume: the datastores' three claims and the asset claim are enough here.
  const SPEC = { retainPolicy: "Retain", kb: { git: { url: "https://git.example/kb.git" } } };
  const password = async () =>
    (await client.get<V1Secret>(SECRET, ns.name, "gaia-postgres-credentials"))?.data?.password;

  before(async function () {
    this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
    kc = await controlPlane();
    client = testClient(kc);
    ns = await freshNamespace(kc, "op-retain");
    operator = await runOperator(kc, ns.name);
  });

  after(async () => {
    await operator?.stop();
    await ns?.cleanup();
  });

  let assetClaimUid: string | undefined;

  it("keeps the claims and the generated Secrets when the platform is deleted", async () => {
    await client.create(PLATFORM, platformObject(ns.name, SPEC));
    await waitReady(client, ns.name);
    assetClaimUid = (await client.get(PVC, ns.name, "gaia-asset-data"))?.metadata?.uid;
    assert.ok(assetClaimUid, "the asset claim exists after reconcile");
    const before = await password();
    assert.ok(before);
    await deletePlatform(client, ns.name);
    await waitFor(async () => (await names(client, STATEFULSET, ns.name)).length === 0, {
      timeoutMs: 60_000,
      description: "the garbage collector to delete the StatefulSets",
    });
    assert.deepEqual(await names(client, PVC, ns.name), [
      "data-gaia-nats-0",
      "data-gaia-postgres-0",
      "data-gaia-redis-0",
      "gaia-asset-data",
    ]);
    const secret = (await client.get<V1Secret>(SECRET, ns.name, "gaia-postgres-credentials"))!;
    assert.deepEqual(secret.metadata!.ownerReferences ?? [], [], "released from the deleted platform");
    assert.equal(secret.data!.password, before);
    assert.ok(await client.get(SECRET, ns.name, "gaia-jwt"));
  });

  it("lets a platform of the same name adopt them: same database password, same volumes", async () => {
    const before = await password();
    await client.create(PLATFORM, platformObject(ns.name, SPEC));
    const platform = await waitReady(client, ns.name);
    assert.equal(await password(), before);
    const secret = (await client.get<V1Secret>(SECRET, ns.name, "gaia-postgres-credentials"))!;
    assert.equal(secret.metadata!.ownerReferences?.[0]?.uid, platform.metadata.uid);
    assert.equal(
      (await client.get(PVC, ns.name, "gaia-asset-data"))?.metadata?.uid,
      assetClaimUid,
      "the same asset files, not a new claim",
    );
    assert.deepEqual(await names(client, PVC, ns.name), [
      "data-gaia-nats-0",
      "data-gaia-postgres-0",
      "data-gaia-redis-0",
      "gaia-asset-data",
    ]);
  });

  it("does not generate a new database password over a database that has data", async () => {
    await client.delete(SECRET, ns.name, "gaia-postgres-credentials");
    const platform = await waitFor(
      async () => {
        const current = await getPlatform(client, ns.name);
        const degraded = current?.status?.conditions?.find((c) => c.type === "Degraded");
        return degraded?.reason === "SecretDeleted" && current;
      },
      { timeoutMs: 20_000, description: "the platform to report the deleted Secret" },
    );
    assert.match(
      platform.status!.conditions!.find((c) => c.type === "Degraded")!.message,
      /restore the Secret/,
    );
    assert.equal(await client.get(SECRET, ns.name, "gaia-postgres-credentials"), undefined);
  });
});
