import assert from "node:assert/strict";
import { isSubset, needsApply, strategySwitch, withAppliedHash } from "../../src/controller/drift.ts";
import { desired } from "../../src/specs/desired.ts";
import type { Manifest } from "../../src/specs/manifest.ts";
import { makePlatform } from "../support/platform.ts";

/**
 * What the API server hands back after an apply: its own metadata and status, defaults filled in, quantities in
 * canonical form, empty maps dropped. A model of the server (the integration tests meet the real one).
 */
function asStored(applied: Manifest): Manifest {
  const stored = JSON.parse(
    JSON.stringify(applied, (key, value) => {
      if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0)
        return undefined;
      if ((key === "memory" || key === "storage") && value === "1024Mi") return "1Gi";
      return value;
    }),
  );
  stored.metadata = {
    ...stored.metadata,
    uid: "x",
    resourceVersion: "42",
    generation: 1,
    creationTimestamp: "2026-01-01T00:00:00Z",
  };
  stored.status = { observedGeneration: 1 };
  if (stored.kind === "Deployment") {
    stored.spec.progressDeadlineSeconds = 600;
    stored.spec.strategy ??= {
      type: "RollingUpdate",
      rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" },
    };
    stored.spec.template.spec.dnsPolicy = "ClusterFirst";
    for (const c of stored.spec.template.spec.containers) {
      c.terminationMessagePath = "/dev/termination-log";
      c.readinessProbe.timeoutSeconds = 1;
    }
  }
  if (stored.kind === "Service") stored.spec.clusterIP ??= "10.0.0.7";
  return stored;
}

describe("controller/drift", () => {
  const platform = makePlatform({
    mesh: { linkerd: { enabled: true } },
    services: { auth: { resources: { requests: { memory: "1024Mi" } } } },
  });
  const wanted = desired(platform, { servicesImage: "r:1", configChecksum: "c" }).applied.map(
    withAppliedHash,
  );

  it("finds nothing to write when the cluster holds what was applied (a no-op resync: zero writes)", () => {
    const writes = wanted.filter((object) => needsApply(object, asStored(object)));
    assert.deepEqual(
      writes.map((o) => `${o.kind}/${o.metadata?.name}`),
      [],
    );
  });

  it("writes what is missing", () => {
    assert.equal(needsApply(wanted[0]!, undefined), true);
  });

  it("restores a field someone else changed (kubectl scale)", () => {
    const deployment = wanted.find((o) => o.kind === "Deployment" && o.metadata?.name === "gaia-auth")!;
    const live = asStored(deployment) as Manifest & { spec: { replicas: number } };
    live.spec.replicas = 5;
    assert.equal(needsApply(deployment, live), true);
  });

  it("restores a label someone removed", () => {
    const live = asStored(wanted[0]!);
    delete live.metadata!.labels!["app.kubernetes.io/part-of"];
    assert.equal(needsApply(wanted[0]!, live), true);
  });

  it("reapplies when the operator stops setting a field, though the live object still holds all it sets", () => {
    const before = desired(platform, { servicesImage: "r:1", configChecksum: "c" }).applied.find(
      (o) => o.kind === "ConfigMap",
    )!;
    const live = asStored(withAppliedHash(before));
    const after = structuredClone(before);
    delete (after.data as Record<string, string>).GAIA_WEB_URL;
    assert.equal(isSubset(after, live), true, "every field still present");
    assert.equal(needsApply(withAppliedHash(after), live), true, "but applying it removes GAIA_WEB_URL");
  });

  it("compares quantities by value and treats empty desired maps as absent", () => {
    assert.equal(
      isSubset(
        { resources: { limits: { memory: "512Mi" } } },
        { resources: { limits: { memory: "0.5Gi" } } },
      ),
      true,
    );
    assert.equal(
      isSubset({ resources: { limits: { cpu: "1" } } }, { resources: { limits: { cpu: "1000m" } } }),
      true,
    );
    assert.equal(
      isSubset({ resources: { limits: { cpu: "1" } } }, { resources: { limits: { cpu: "2" } } }),
      false,
    );
    assert.equal(
      isSubset({ value: "1" }, { value: "1.0" }),
      false,
      "outside quantities, strings are strings",
    );
    assert.equal(isSubset({ annotations: {} }, {}), true);
    assert.equal(isSubset({ list: [] }, { list: undefined }), true);
  });

  it("requires lists to match element by element", () => {
    assert.equal(isSubset({ ports: [{ port: 1 }] }, { ports: [{ port: 1, protocol: "TCP" }] }), true);
    assert.equal(isSubset({ ports: [{ port: 1 }] }, { ports: [{ port: 1 }, { port: 2 }] }), false);
    assert.equal(isSubset({ args: ["a", "b"] }, { args: ["b", "a"] }), false);
  });

  it("patches a Deployment's strategy first where server-side apply alone cannot switch it", () => {
    const asset = wanted.find((o) => o.kind === "Deployment" && o.metadata?.name === "gaia-asset")!;
    const gateway = wanted.find((o) => o.kind === "Deployment" && o.metadata?.name === "gaia-gateway")!;
    // Created before asset had a claim: RollingUpdate, with the rollingUpdate the API server defaulted.
    const before = asStored(gateway);
    assert.deepEqual(strategySwitch(asset, before), {
      spec: { strategy: { type: "Recreate", rollingUpdate: null } },
    });
    assert.deepEqual(strategySwitch(gateway, asStored(asset)), {
      spec: { strategy: { type: "RollingUpdate" } },
    });
    assert.equal(strategySwitch(asset, asStored(asset)), undefined, "already Recreate");
    assert.equal(strategySwitch(gateway, before), undefined, "already RollingUpdate");
    assert.equal(strategySwitch(asset, undefined), undefined, "created by the apply");
    const configMap = wanted.find((o) => o.kind === "ConfigMap")!;
    assert.equal(strategySwitch(configMap, asStored(configMap)), undefined);
  });

  it("stamps the hash without changing the desired object", () => {
    const object = desired(platform, { servicesImage: "r:1", configChecksum: "c" }).applied[0]!;
    const copy = structuredClone(object);
    const stamped = withAppliedHash(object);
    assert.deepEqual(object, copy);
    assert.match(stamped.metadata!.annotations!["gaia.dev/applied-hash"]!, /^[0-9a-f]{32}$/);
  });
});
