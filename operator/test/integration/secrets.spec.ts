import assert from "node:assert/strict";
import type { KubeConfig, V1Deployment } from "@kubernetes/client-node";
import { freshNamespace, type TestNamespace } from "../../../test/controlplane/harness.ts";
import type { KubeClient } from "../../src/controller/client.ts";
import { DEPLOYMENT, PLATFORM, SECRET } from "../../src/controller/resources.ts";
import type { RunningOperator } from "../../src/operator.ts";
import {
  CONTROL_PLANE_START_TIMEOUT_MS,
  controlPlane,
  deletePlatform,
  externalDatastores,
  platformObject,
  runOperator,
  testClient,
  waitFor,
  waitReady,
} from "./support.ts";

/** The user's Secrets are watched: a change rolls the pods at once, not at the next resync. */
describe("operator against a real API server: the user's Secrets", function () {
  this.timeout(120_000);

  let kc: KubeConfig;
  let client: KubeClient;
  let ns: TestNamespace;
  let operator: RunningOperator;

  const checksum = async (name: string) =>
    (await client.get<V1Deployment>(DEPLOYMENT, ns.name, name))?.spec?.template.metadata?.annotations?.[
      "gaia.dev/config-checksum"
    ];

  before(async function () {
    this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
    kc = await controlPlane();
    client = testClient(kc);
    ns = await freshNamespace(kc, "op-user-secrets");
    const datastores = await externalDatastores(client, ns.name, "one");
    await client.create(
      PLATFORM,
      platformObject(ns.name, { mesh: { linkerd: { enabled: false } }, ...datastores }),
    );
    // An hour between resyncs: whatever happens within the test is the watch's doing.
    operator = await runOperator(kc, ns.name, { resyncSeconds: 3600 });
  });

  after(async () => {
    if (operator) await deletePlatform(client, ns.name);
    await operator?.stop();
    await ns?.cleanup();
  });

  it("rolls the pods within seconds of a change to a Secret the platform references", async () => {
    await waitReady(client, ns.name);
    const before = await checksum("gaia-gateway");
    assert.ok(before);
    await client.patch(
      SECRET,
      ns.name,
      "datastores",
      { stringData: { postgres: "postgresql://gaia:two@postgres.invalid:5432/gaia" } },
      "application/merge-patch+json",
    );
    await waitFor(async () => (await checksum("gaia-gateway")) !== before, {
      timeoutMs: 10_000,
      description: "the config checksum to follow the Secret",
    });
  });
});
