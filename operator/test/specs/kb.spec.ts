import assert from "node:assert/strict";
import { kbClaim, kbVolume } from "../../src/specs/kb.ts";
import { makePlatform } from "../support/platform.ts";

describe("specs/kb", () => {
  it("keeps a knowledge base without Git remote on an unowned, labelled claim", () => {
    const claim = kbClaim(makePlatform({ kb: { storage: "5Gi", storageClassName: "slow" } }))!;
    assert.equal(claim.metadata!.name, "gaia-kb-data");
    assert.equal(
      claim.metadata!.ownerReferences,
      undefined,
      "the garbage collector must not take the only copy",
    );
    assert.equal(claim.metadata!.labels!["app.kubernetes.io/managed-by"], "gaia-operator");
    assert.deepEqual(claim.spec, {
      accessModes: ["ReadWriteOnce"],
      storageClassName: "slow",
      resources: { requests: { storage: "5Gi" } },
    });
  });

  it("needs no claim with a Git remote: the working copy is a cache", () => {
    const platform = makePlatform({ kb: { git: { url: "https://g/kb.git" } } });
    assert.equal(kbClaim(platform), undefined);
    assert.deepEqual(kbVolume(platform), { name: "data", emptyDir: { sizeLimit: "1Gi" } });
  });
});
