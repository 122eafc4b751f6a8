import assert from "node:assert/strict";
import type { KubernetesObject } from "@kubernetes/client-node";
import { ownerKey, toPrune } from "../../src/controller/ownership.ts";
import { labels, ownerReference } from "../../src/specs/labels.ts";
import { manifestKey } from "../../src/specs/manifest.ts";
import { makePlatform } from "../support/platform.ts";

describe("controller/ownership", () => {
  const platform = makePlatform({}, { uid: "uid-now" });
  const child = (
    kind: string,
    name: string,
    extra: Partial<KubernetesObject["metadata"]> = {},
  ): KubernetesObject => ({
    apiVersion: "v1",
    kind,
    metadata: {
      name,
      namespace: "games",
      labels: labels(platform, "x", "config"),
      ownerReferences: [ownerReference(platform)],
      ...extra,
    },
  });

  it("prunes only owned, labelled children that are no longer wanted", () => {
    const wanted = child("ConfigMap", "gaia-config");
    const stale = child("ConfigMap", "gaia-old");
    const foreign = child("ConfigMap", "gaia-other", {
      ownerReferences: [{ ...ownerReference(platform), uid: "uid-before" }],
    });
    const unowned = child("PersistentVolumeClaim", "gaia-kb-data", { ownerReferences: undefined });
    const unlabelled = child("ConfigMap", "gaia-hand-made", { labels: {} });
    const going = child("Service", "gaia-going", { deletionTimestamp: new Date() });
    const pruned = toPrune(
      platform,
      [wanted, stale, foreign, unowned, unlabelled, going],
      new Set([manifestKey(wanted)]),
    );
    assert.deepEqual(
      pruned.map((o) => o.metadata!.name),
      ["gaia-old"],
    );
  });

  it("tells kinds apart: a wanted Service does not keep a ConfigMap of the same name", () => {
    const service = child("Service", "gaia-web");
    const map = child("ConfigMap", "gaia-web");
    assert.deepEqual(toPrune(platform, [service, map], new Set([manifestKey(service)])), [map]);
  });

  it("maps a child to its platform's key through the controller reference", () => {
    assert.equal(
      ownerKey(child("Deployment", "gaia-web"), "GaiaPlatform", "gaia.dev/v1alpha1"),
      "games/gaia",
    );
    const notOurs = child("Deployment", "d", {
      ownerReferences: [
        { apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs", uid: "u", controller: true },
      ],
    });
    assert.equal(ownerKey(notOurs, "GaiaPlatform", "gaia.dev/v1alpha1"), undefined);
  });
});
