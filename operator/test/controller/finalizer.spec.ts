import assert from "node:assert/strict";
import type { KubernetesObject } from "@kubernetes/client-node";
import { finalizeSteps } from "../../src/controller/finalizer.ts";
import { labels, ownerReference } from "../../src/specs/labels.ts";
import { makePlatform } from "../support/platform.ts";

describe("controller/finalizer", () => {
  const object = (platformSpec: Record<string, unknown>) => {
    const platform = makePlatform(platformSpec);
    const owned = (
      kind: string,
      name: string,
      extra: Partial<KubernetesObject["metadata"]> = {},
    ): KubernetesObject => ({
      kind,
      metadata: {
        name,
        labels: labels(platform, "x", "database"),
        ownerReferences: [ownerReference(platform)],
        ...extra,
      },
    });
    const claim = (name: string, extra: Partial<KubernetesObject["metadata"]> = {}) =>
      owned("PersistentVolumeClaim", name, { ownerReferences: undefined, ...extra });
    return { platform, owned, claim };
  };

  it("with retainPolicy Delete deletes the StatefulSets, then every claim, then lets go", () => {
    const { platform, owned, claim } = object({ retainPolicy: "Delete" });
    const steps = finalizeSteps(platform, {
      statefulSets: [
        owned("StatefulSet", "gaia-postgres"),
        owned("StatefulSet", "gaia-nats", { deletionTimestamp: new Date() }),
      ],
      claims: [
        claim("data-gaia-postgres-0"),
        claim("gaia-kb-data"),
        claim("gaia-asset-data"),
        claim("data-gaia-redis-0", { deletionTimestamp: new Date() }),
        claim("someone-elses", { labels: {} }),
      ],
      generatedSecrets: [owned("Secret", "gaia-jwt")],
    });
    assert.deepEqual(steps, [
      { action: "deleteStatefulSet", name: "gaia-postgres" },
      { action: "deleteClaim", name: "data-gaia-postgres-0" },
      { action: "deleteClaim", name: "gaia-kb-data" },
      { action: "deleteClaim", name: "gaia-asset-data" },
      { action: "removeFinalizer" },
    ]);
  });

  it("with retainPolicy Retain keeps the claims and releases the generated Secrets from the platform", () => {
    const { platform, owned, claim } = object({ retainPolicy: "Retain" });
    const steps = finalizeSteps(platform, {
      statefulSets: [owned("StatefulSet", "gaia-postgres")],
      claims: [claim("data-gaia-postgres-0")],
      generatedSecrets: [
        owned("Secret", "gaia-jwt"),
        owned("Secret", "gaia-postgres-credentials", { ownerReferences: [] }),
      ],
    });
    assert.deepEqual(steps, [{ action: "releaseSecret", name: "gaia-jwt" }, { action: "removeFinalizer" }]);
  });
});
