import assert from "node:assert/strict";
import { applyDefaults, crd, platformSchema, readYaml, type Schema, violations } from "./support/crd.ts";

describe("GaiaPlatform CRD", () => {
  const definition = crd();
  const schema = platformSchema();

  it("names the API gaia.dev/v1alpha1 GaiaPlatform, namespaced, short name gaia, with a status subresource", () => {
    assert.equal(definition.metadata.name, "gaiaplatforms.gaia.dev");
    assert.equal(definition.spec.group, "gaia.dev");
    assert.equal(definition.spec.scope, "Namespaced");
    assert.deepEqual(definition.spec.names.shortNames, ["gaia"]);
    const [version] = definition.spec.versions;
    assert.equal(version.name, "v1alpha1");
    assert.deepEqual(version.subresources, { status: {} });
  });

  it("prints Ready, Version, Gateway and Age", () => {
    const columns = definition.spec.versions[0].additionalPrinterColumns;
    assert.deepEqual(
      columns.map((c: Schema) => [c.name, c.jsonPath]),
      [
        ["Ready", '.status.conditions[?(@.type=="Ready")].status'],
        ["Version", ".status.version"],
        ["Gateway", ".status.gatewayURL"],
        ["Age", ".metadata.creationTimestamp"],
      ],
    );
  });

  it("defaults a spec with only an image to the whole platform of DESIGN §7", () => {
    const spec = applyDefaults({ image: { repository: "r", tag: "1" } }, schema.properties.spec) as Schema;
    assert.equal(spec.image.pullPolicy, "IfNotPresent");
    assert.equal(spec.services.gateway.replicas, 2);
    assert.deepEqual(spec.services.gateway.autoscaling, {
      enabled: true,
      minReplicas: 2,
      maxReplicas: 10,
      targetCPUUtilization: 70,
    });
    assert.deepEqual(spec.services.chat.autoscaling, {
      enabled: true,
      minReplicas: 1,
      maxReplicas: 5,
      targetCPUUtilization: 70,
    });
    for (const name of ["auth", "asset", "kb", "web"]) {
      assert.equal(spec.services[name].replicas, 1, name);
      assert.equal(spec.services[name].autoscaling, undefined, `${name} has no autoscaler by default`);
      assert.deepEqual(spec.services[name].resources.requests, { cpu: "100m", memory: "128Mi" });
    }
    assert.deepEqual(spec.postgres, {
      managed: {
        version: "16",
        storage: "10Gi",
        replicas: 1,
        resources: { requests: { cpu: "100m", memory: "256Mi" } },
      },
    });
    assert.equal(spec.redis.managed.version, "7");
    assert.deepEqual(spec.nats.managed.jetstream, { storage: "1Gi" });
    assert.deepEqual(spec.mesh, { linkerd: { enabled: false, policy: "strict" } });
    assert.deepEqual(spec.networkPolicy, { enabled: true });
    assert.deepEqual(spec.exposure.gateway, { serviceType: "ClusterIP" });
    assert.equal(spec.retainPolicy, "Retain");
    assert.deepEqual(spec.assets, { storage: { size: "10Gi" } });
    assert.deepEqual(violations(spec, schema.properties.spec), []);
  });

  it("does not default managed when external is chosen", () => {
    const spec = applyDefaults(
      {
        image: { repository: "r", tag: "1" },
        postgres: { external: { secretRef: { name: "db", key: "url" } } },
      },
      schema.properties.spec,
    ) as Schema;
    assert.equal(spec.postgres.managed, undefined);
  });

  /** Every CEL rule, by the message it reports. */
  function rules(node: Schema, at = ""): Map<string, string> {
    const found = new Map<string, string>();
    for (const rule of node?.["x-kubernetes-validations"] ?? [])
      found.set(`${at}: ${rule.message}`, rule.rule);
    for (const [key, child] of Object.entries<Schema>(node?.properties ?? {})) {
      for (const [k, v] of rules(child, `${at}.${key}`)) found.set(k, v);
    }
    if (node?.items) for (const [k, v] of rules(node.items, `${at}[]`)) found.set(k, v);
    return found;
  }

  it("validates with CEL: one of managed/external, immutable storage class, bounds, min <= max", () => {
    const all = rules(schema);
    for (const store of ["postgres", "redis", "nats"]) {
      assert.equal(
        all.get(`.spec.${store}: set exactly one of managed or external`),
        "has(self.managed) != has(self.external)",
      );
      assert.equal(
        all.get(`.spec.${store}.managed.storageClassName: storageClassName is immutable`),
        "self == oldSelf",
      );
    }
    assert.equal(
      all.get(
        ".spec.services.gateway.autoscaling: autoscaling.minReplicas must not exceed autoscaling.maxReplicas",
      ),
      "self.minReplicas <= self.maxReplicas",
    );
    assert.ok(
      all.has(".spec.nats.managed: nats.managed.replicas must be 1 or at least 3: JetStream needs a quorum"),
    );
    assert.ok([...all.keys()].some((k) => k.startsWith(": metadata.name must be at most 40 characters")));
    assert.equal(
      all.get(
        ": asset keeps its files on one volume (spec.assets.storage): services.asset must run at most one replica and no autoscaling until S3 storage exists",
      ),
      "self.spec.services.asset.replicas <= 1 && !(has(self.spec.services.asset.autoscaling) && self.spec.services.asset.autoscaling.enabled)",
    );
    assert.equal(
      all.get(".spec.assets.storage.storageClassName: storageClassName is immutable"),
      "self == oldSelf",
    );
    const replicas = schema.properties.spec.properties.services.properties.auth.properties.replicas;
    assert.deepEqual([replicas.minimum, replicas.maximum], [0, 100]);
    assert.equal(
      schema.properties.spec.properties.postgres.properties.managed.properties.replicas.maximum,
      1,
    );
  });

  for (const example of ["examples/gaiaplatform.yaml", "examples/gaiaplatform-production.yaml"]) {
    it(`accepts ${example}`, () => {
      const object = readYaml(example) as Schema;
      assert.equal(object.apiVersion, "gaia.dev/v1alpha1");
      assert.equal(object.kind, "GaiaPlatform");
      const spec = applyDefaults(object.spec, schema.properties.spec);
      assert.deepEqual(violations(spec, schema.properties.spec), []);
    });
  }

  it("reports unknown fields, wrong enums and out-of-bounds values", () => {
    const spec = applyDefaults(
      {
        image: { repository: "r", tag: "1", pullPolicy: "Sometimes" },
        services: { auth: { replicas: 101 } },
        colour: "red",
      },
      schema.properties.spec,
    );
    assert.deepEqual(violations(spec, schema.properties.spec).sort(), [
      "spec.colour: unknown field",
      "spec.image.pullPolicy: not one of Always, IfNotPresent, Never",
      "spec.services.auth.replicas: above 100",
    ]);
  });
});
