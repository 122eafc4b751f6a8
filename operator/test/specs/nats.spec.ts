import assert from "node:assert/strict";
import type { V1ConfigMap, V1Service, V1StatefulSet } from "@kubernetes/client-node";
import { nats, natsConfig } from "../../src/specs/nats.ts";
import { byName, makePlatform } from "../support/platform.ts";

const statefulSet = (objects: unknown[], name: string) =>
  byName(objects as V1StatefulSet[], "StatefulSet").get(name) as V1StatefulSet;
const service = (objects: unknown[], name: string) =>
  byName(objects as V1Service[], "Service").get(name) as V1Service;

describe("specs/nats", () => {
  it("runs one server with JetStream on a file store sized like its volume", () => {
    const platform = makePlatform({ nats: { managed: { jetstream: { storage: "2Gi" } } } });
    assert.ok(
      natsConfig(platform).startsWith(
        [
          "server_name: $SERVER_NAME",
          "port: 4222",
          "http_port: 8222",
          "jetstream {",
          "  store_dir: /data/jetstream",
          `  max_file_store: ${2 * 1024 ** 3}`,
          "}",
          "authorization {",
        ].join("\n"),
      ),
    );
    const objects = nats(platform);
    const sts = statefulSet(objects, "gaia-nats");
    const c = sts.spec!.template.spec!.containers[0]!;
    assert.equal(c.image, "nats:2.10");
    assert.deepEqual(
      c.ports!.map((p) => [p.name, p.containerPort]),
      [
        ["client", 4222],
        ["monitor", 8222],
      ],
    );
    assert.deepEqual(c.startupProbe!.httpGet, { path: "/healthz", port: "monitor" });
    assert.deepEqual(c.livenessProbe!.httpGet, { path: "/healthz?js-enabled-only=true", port: "monitor" });
    assert.deepEqual(c.readinessProbe!.httpGet, { path: "/healthz?js-server-only=true", port: "monitor" });
    assert.equal(sts.spec!.serviceName, "gaia-nats-headless");
    assert.equal(service(objects, "gaia-nats-headless").spec!.publishNotReadyAddresses, true);
    assert.deepEqual(
      service(objects, "gaia-nats").spec!.ports!.map((p) => p.port),
      [4222],
    );
    const config = byName(objects as V1ConfigMap[], "ConfigMap").get("gaia-nats-config") as V1ConfigMap;
    assert.equal(config.data!["nats.conf"], natsConfig(platform));
    assert.match(sts.spec!.template.metadata!.annotations!["gaia.dev/config-checksum"]!, /^[0-9a-f]{32}$/);
  });

  it("forms a cluster of three with routes to every server over the headless Service", () => {
    const platform = makePlatform({ nats: { managed: { replicas: 3 } } });
    const config = natsConfig(platform);
    for (const i of [0, 1, 2])
      assert.ok(config.includes(`nats://gaia-nats-${i}.gaia-nats-headless:6222`), config);
    assert.match(config, /cluster \{\n {2}name: gaia-nats\n {2}port: 6222\n/);
    const sts = statefulSet(nats(platform), "gaia-nats");
    assert.equal(sts.spec!.replicas, 3);
    assert.equal(sts.spec!.podManagementPolicy, "Parallel");
    assert.ok(
      sts.spec!.template.spec!.containers[0]!.ports!.some(
        (p) => p.name === "cluster" && p.containerPort === 6222,
      ),
    );
  });

  it("marks the NATS ports opaque for Linkerd when the mesh is on", () => {
    const objects = nats(
      makePlatform({ nats: { managed: { replicas: 3 } }, mesh: { linkerd: { enabled: true } } }),
    );
    const annotations = statefulSet(objects, "gaia-nats").spec!.template.metadata!.annotations!;
    assert.equal(annotations["config.linkerd.io/opaque-ports"], "4222,6222");
    assert.equal(annotations["linkerd.io/inject"], "enabled");
    assert.equal(
      service(objects, "gaia-nats").metadata!.annotations!["config.linkerd.io/opaque-ports"],
      "4222",
    );
    const off = nats(makePlatform());
    assert.equal(
      statefulSet(off, "gaia-nats").spec!.template.metadata!.annotations!["config.linkerd.io/opaque-ports"],
      undefined,
    );
  });
});
