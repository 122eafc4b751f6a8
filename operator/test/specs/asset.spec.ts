import assert from "node:assert/strict";
import { assetClaim, assetVolume } from "../../src/specs/asset.ts";
import { makePlatform } from "../support/platform.ts";

describe("specs/asset", () => {
  it("keeps the generated files on an unowned, labelled claim of the requested size and class", () => {
    const claim = assetClaim(
      makePlatform({ assets: { storage: { size: "50Gi", storageClassName: "slow" } } }),
    );
    assert.equal(claim.metadata!.name, "gaia-asset-data");
    assert.equal(claim.metadata!.namespace, "games");
    assert.equal(
      claim.metadata!.ownerReferences,
      undefined,
      "the garbage collector must not take the only copy",
    );
    assert.deepEqual(claim.metadata!.labels, {
      "app.kubernetes.io/name": "asset",
      "app.kubernetes.io/instance": "gaia",
      "app.kubernetes.io/component": "storage",
      "app.kubernetes.io/part-of": "gaia",
      "app.kubernetes.io/managed-by": "gaia-operator",
    });
    assert.deepEqual(claim.spec, {
      accessModes: ["ReadWriteOnce"],
      storageClassName: "slow",
      resources: { requests: { storage: "50Gi" } },
    });
  });

  it("defaults to 10Gi of the cluster's default storage class", () => {
    const platform = makePlatform();
    assert.deepEqual(platform.spec.assets, { storage: { size: "10Gi" } });
    assert.deepEqual(assetClaim(platform).spec, {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "10Gi" } },
    });
    assert.deepEqual(assetVolume(platform), {
      name: "data",
      persistentVolumeClaim: { claimName: "gaia-asset-data" },
    });
  });

  it("names the claim after the platform", () => {
    assert.equal(assetClaim(makePlatform({}, { name: "prod" })).metadata!.name, "prod-asset-data");
  });
});
