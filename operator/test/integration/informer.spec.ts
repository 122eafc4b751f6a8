import assert from "node:assert/strict";
import { createLogger } from "@gaia/kit/log";
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import {
  applyObjects,
  freshNamespace,
  type TestNamespace,
  waitForCrd,
} from "../../../test/controlplane/harness.ts";
import type { KubeClient } from "../../src/controller/client.ts";
import { Informer, type InformerEvent } from "../../src/controller/informers.ts";
import type { ResourceType } from "../../src/controller/resources.ts";
import { CONTROL_PLANE_START_TIMEOUT_MS, controlPlane, sleep, testClient, waitFor } from "./support.ts";

/** The informer keeps trying until its resource can be listed, then follows it. */
describe("operator against a real API server: informers", function () {
  this.timeout(60_000);

  let kc: KubeConfig;
  let client: KubeClient;
  let ns: TestNamespace;
  const group = `t${Date.now().toString(36)}.informer.gaia.dev`;
  const probes: ResourceType = { apiVersion: `${group}/v1`, kind: "Probe", plural: "probes" };

  before(async function () {
    this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
    kc = await controlPlane();
    client = testClient(kc);
    ns = await freshNamespace(kc, "op-informer");
  });

  after(async () => {
    await ns?.cleanup();
    await client
      .delete(
        {
          apiVersion: "apiextensions.k8s.io/v1",
          kind: "CustomResourceDefinition",
          plural: "customresourcedefinitions",
        },
        "",
        `probes.${group}`,
      )
      .catch(() => {});
  });

  it("retries a failing list until the resource exists, then reports its objects", async () => {
    const events: [InformerEvent, string][] = [];
    const informer = new Informer<KubernetesObject>(
      kc,
      client,
      probes,
      ns.name,
      undefined,
      (event, object) => events.push([event, object.metadata!.name!]),
      createLogger("informer-test", "silent"),
    );
    let synced = false;
    const started = informer.start().then(() => {
      synced = true;
    });
    await sleep(1500);
    assert.equal(synced, false, "no cache before the resource can be listed");

    await applyObjects(kc, [
      {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: `probes.${group}` },
        spec: {
          group,
          scope: "Namespaced",
          names: { kind: "Probe", plural: "probes", singular: "probe" },
          versions: [
            { name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object" } } },
          ],
        },
      } as KubernetesObject,
    ]);
    await waitForCrd(kc, `probes.${group}`);
    await started;

    await client.create(probes, {
      apiVersion: probes.apiVersion,
      kind: "Probe",
      metadata: { name: "one", namespace: ns.name },
    });
    await waitFor(() => informer.get("one", ns.name), {
      timeoutMs: 10_000,
      description: "the cache to hold the object",
    });
    await client.delete(probes, ns.name, "one");
    await waitFor(() => !informer.get("one", ns.name), {
      timeoutMs: 10_000,
      description: "the cache to drop it",
    });
    assert.deepEqual(events, [
      ["add", "one"],
      ["delete", "one"],
    ]);
    await informer.stop();
  });

  it("caches objects without server-side apply's field ownership or kubectl's last-applied copy", async () => {
    const configMaps: ResourceType = { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps" };
    const configMap = (name: string) => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name,
        namespace: ns.name,
        labels: { slim: "yes" },
        annotations: {
          "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify({
            data: { big: "x".repeat(2048) },
          }),
          "example.com/kept": "yes",
        },
      },
      data: { key: "value" },
    });
    const stored = await client.create<KubernetesObject>(configMaps, configMap("listed"));
    assert.ok(stored.metadata?.managedFields?.length, "the API server records field ownership");

    const informer = new Informer<KubernetesObject & { data?: Record<string, string> }>(
      kc,
      client,
      configMaps,
      ns.name,
      "slim=yes",
      () => undefined,
      createLogger("informer-test", "silent"),
    );
    await informer.start();
    await client.create(configMaps, configMap("watched"));
    await waitFor(() => informer.get("watched", ns.name), {
      timeoutMs: 10_000,
      description: "the cache to hold the object created after the list",
    });
    for (const name of ["listed", "watched"]) {
      const cached = informer.get(name, ns.name)!;
      assert.equal(cached.metadata?.managedFields, undefined, `${name}: managedFields dropped`);
      assert.deepEqual(cached.metadata?.annotations, { "example.com/kept": "yes" }, `${name}: annotations`);
      assert.deepEqual(cached.data, { key: "value" });
      assert.ok(cached.metadata?.resourceVersion && cached.metadata.uid);
    }
    await informer.stop();
  });

  it("caches metadata alone when asked: a Secret without its data, from the list and from the watch", async () => {
    const secrets: ResourceType = { apiVersion: "v1", kind: "Secret", plural: "secrets" };
    const secret = (name: string) => ({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace: ns.name, labels: { metadata: "only" } },
      stringData: { password: "not for the cache" },
    });
    await client.create(secrets, secret("listed"));
    const informer = new Informer<KubernetesObject & { data?: unknown }>(
      kc,
      client,
      secrets,
      ns.name,
      "metadata=only",
      () => undefined,
      createLogger("informer-test", "silent"),
      true,
    );
    await informer.start();
    await client.create(secrets, secret("watched"));
    await waitFor(() => informer.get("watched", ns.name), {
      timeoutMs: 10_000,
      description: "the cache to hold the Secret created after the list",
    });
    for (const name of ["listed", "watched"]) {
      const cached = informer.get(name, ns.name)!;
      assert.equal(cached.kind, "PartialObjectMetadata", `${name}: metadata representation`);
      assert.equal(cached.data, undefined, `${name}: no data`);
      assert.equal(cached.metadata?.labels?.metadata, "only");
      assert.equal(cached.metadata?.managedFields, undefined);
    }
    await informer.stop();

    // The API server sends an empty metadata list with `items: null`.
    const empty = new Informer(
      kc,
      client,
      secrets,
      ns.name,
      "metadata=none",
      () => undefined,
      createLogger("informer-test", "silent"),
      true,
    );
    await empty.start();
    assert.deepEqual(empty.list(ns.name), []);
    await empty.stop();
  });
});
