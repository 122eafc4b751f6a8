import assert from "node:assert/strict";
import type { KubeConfig } from "@kubernetes/client-node";
import { freshNamespace, type TestNamespace } from "../../../test/controlplane/harness.ts";
import type { KubeClient } from "../../src/controller/client.ts";
import { CHILD_TYPES, PLATFORM } from "../../src/controller/resources.ts";
import type { RunningOperator } from "../../src/operator.ts";
import type { NetworkPolicy } from "../../src/specs/netpol.ts";
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
} from "./support.ts";

/** The NetworkPolicies against a real API server: accepted as written, owned by the platform, pruned when off. */
describe("operator against a real API server: NetworkPolicies", function () {
  this.timeout(180_000);

  let kc: KubeConfig;
  let client: KubeClient;
  let ns: TestNamespace;
  let operator: RunningOperator;
  const NETWORK_POLICY = CHILD_TYPES.find((t) => t.kind === "NetworkPolicy")!;
  // Every managed datastore and a NATS cluster: the most policies a platform has.
  const SPEC = { nats: { managed: { replicas: 3 } }, retainPolicy: "Delete" };
  const EXPECTED = [
    "gaia-asset-http",
    "gaia-auth-http",
    "gaia-chat-http",
    "gaia-default-deny",
    "gaia-gateway-http",
    "gaia-kb-http",
    "gaia-nats-client",
    "gaia-nats-cluster",
    "gaia-postgres-postgres",
    "gaia-redis-redis",
    "gaia-web-http",
  ];
  const policies = () => names(client, NETWORK_POLICY, ns.name);
  const setEnabled = (enabled: boolean) =>
    client.patch(
      PLATFORM,
      ns.name,
      "gaia",
      { spec: { networkPolicy: { enabled } } },
      "application/merge-patch+json",
    );

  before(async function () {
    this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
    kc = await controlPlane();
    client = testClient(kc);
    ns = await freshNamespace(kc, "op-netpol");
    await client.create(PLATFORM, platformObject(ns.name, SPEC));
    operator = await runOperator(kc, ns.name);
  });

  after(async () => {
    if (client && ns) await deletePlatform(client, ns.name).catch(() => undefined);
    await operator?.stop();
    await ns?.cleanup();
  });

  it("writes a platform's NetworkPolicies by default, each controlled by the platform", async () => {
    await waitFor(async () => (await policies()).join() === EXPECTED.join(), {
      timeoutMs: 60_000,
      description: "the platform's NetworkPolicies",
    });
    const platform = (await getPlatform(client, ns.name))!;
    for (const name of EXPECTED) {
      const policy = (await client.get<NetworkPolicy>(NETWORK_POLICY, ns.name, name))!;
      const owner = policy.metadata.ownerReferences?.find((r) => r.controller);
      assert.equal(owner?.uid, platform.metadata.uid, `${name} is controlled by the platform`);
      assert.equal(policy.metadata.labels?.["app.kubernetes.io/managed-by"], "gaia-operator", name);
    }
  });

  it("is stored as written: selectors, peers and ports survive the API server's decoding", async () => {
    const auth = (await client.get<NetworkPolicy>(NETWORK_POLICY, ns.name, "gaia-auth-http"))!;
    assert.deepEqual(auth.spec.podSelector.matchLabels, {
      "app.kubernetes.io/instance": "gaia",
      "app.kubernetes.io/name": "auth",
    });
    assert.deepEqual(auth.spec.policyTypes, ["Ingress"]);
    const [rule] = auth.spec.ingress!;
    assert.deepEqual(
      rule!.from!.map((peer) => peer.podSelector?.matchLabels?.["app.kubernetes.io/name"]),
      ["asset", "chat", "gateway", "kb"],
    );
    assert.ok(
      rule!.from!.every((peer) => !peer.namespaceSelector && !peer.ipBlock),
      "this namespace only",
    );
    assert.deepEqual(rule!.ports, [{ protocol: "TCP", port: 8001 }]);
    const gateway = (await client.get<NetworkPolicy>(NETWORK_POLICY, ns.name, "gaia-gateway-http"))!;
    assert.deepEqual(gateway.spec.ingress, [{ ports: [{ protocol: "TCP", port: 8666 }] }], "from anywhere");
    const deny = (await client.get<NetworkPolicy>(NETWORK_POLICY, ns.name, "gaia-default-deny"))!;
    assert.equal(deny.spec.ingress, undefined, "admits nothing");
  });

  it("removes them all when spec.networkPolicy.enabled turns false, and writes them again when it turns true", async () => {
    await setEnabled(false);
    await waitFor(async () => (await policies()).length === 0, {
      timeoutMs: 30_000,
      description: "the NetworkPolicies to be pruned",
    });
    await setEnabled(true);
    await waitFor(async () => (await policies()).join() === EXPECTED.join(), {
      timeoutMs: 30_000,
      description: "the NetworkPolicies to come back",
    });
  });
});
