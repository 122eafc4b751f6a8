import assert from "node:assert/strict";
import type { KubeConfig } from "@kubernetes/client-node";
import { freshNamespace, type TestNamespace } from "../../../test/controlplane/harness.ts";
import { ApiError, isNamespaceTerminating, type KubeClient } from "../../src/controller/client.ts";
import { SECRET } from "../../src/controller/resources.ts";
import { CONTROL_PLANE_START_TIMEOUT_MS, controlPlane, testClient, waitFor } from "./support.ts";

const NAMESPACE = { apiVersion: "v1", kind: "Namespace", plural: "namespaces" };
const CONFIGMAP = { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps" };
const HOLD = "gaia.dev/test-hold";

/** What the operator's REST client makes of the API server's refusals. */
describe("operator against a real API server: the REST client", function () {
  this.timeout(60_000);

  let kc: KubeConfig;
  let client: KubeClient;
  let ns: TestNamespace;

  before(async function () {
    this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
    kc = await controlPlane();
    client = testClient(kc);
    ns = await freshNamespace(kc, "op-client");
  });

  after(async () => {
    await client
      .patch(CONFIGMAP, ns.name, "hold", { metadata: { finalizers: null } }, "application/merge-patch+json")
      .catch(() => undefined);
    await ns?.cleanup();
  });

  it("tells a create refused because the namespace is being deleted from other refusals", async () => {
    // A finalizer on one object keeps the namespace Terminating for as long as the test needs.
    await client.create(CONFIGMAP, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "hold", namespace: ns.name, finalizers: [HOLD] },
    });
    const secret = (name: string) => ({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace: ns.name },
      stringData: { key: "value" },
    });
    const conflict = await client
      .create(SECRET, secret("first"))
      .then(() => client.create(SECRET, secret("first")).catch((error: unknown) => error));
    assert.ok(conflict instanceof ApiError && conflict.status === 409);
    assert.equal(isNamespaceTerminating(conflict), false);

    await client.delete(NAMESPACE, "", ns.name);
    await waitFor(
      async () =>
        (
          await client.get<{ status?: { phase?: string } } & { metadata: object }>(
            NAMESPACE,
            undefined,
            ns.name,
          )
        )?.status?.phase === "Terminating",
      { timeoutMs: 10_000, description: "the namespace to be Terminating" },
    );
    const refused = await client.create(SECRET, secret("second")).catch((error: unknown) => error);
    assert.ok(refused instanceof ApiError, `refused: ${String(refused)}`);
    assert.equal(refused.status, 403);
    assert.ok(refused.causes.includes("NamespaceTerminating"), `causes: ${refused.causes.join(", ")}`);
    assert.equal(isNamespaceTerminating(refused), true);
  });
});
