import assert from "node:assert/strict";
import {
  childMeta,
  instanceSelector,
  labels,
  ownerReference,
  selectorLabels,
  versionLabel,
} from "../../src/specs/labels.ts";
import { makePlatform } from "../support/platform.ts";

describe("specs/labels", () => {
  const platform = makePlatform({}, { name: "gaia", namespace: "games", uid: "u-1" });

  it("gives Kubernetes' recommended labels", () => {
    assert.deepEqual(labels(platform, "gateway", "gateway"), {
      "app.kubernetes.io/name": "gateway",
      "app.kubernetes.io/instance": "gaia",
      "app.kubernetes.io/component": "gateway",
      "app.kubernetes.io/part-of": "gaia",
      "app.kubernetes.io/managed-by": "gaia-operator",
    });
  });

  it("selects pods by name and instance only (selectors are immutable)", () => {
    assert.deepEqual(selectorLabels(platform, "chat"), {
      "app.kubernetes.io/name": "chat",
      "app.kubernetes.io/instance": "gaia",
    });
    assert.equal(
      instanceSelector(platform),
      "app.kubernetes.io/instance=gaia,app.kubernetes.io/managed-by=gaia-operator",
    );
  });

  it("makes the platform the controlling owner", () => {
    assert.deepEqual(ownerReference(platform), {
      apiVersion: "gaia.dev/v1alpha1",
      kind: "GaiaPlatform",
      name: "gaia",
      uid: "u-1",
      controller: true,
      blockOwnerDeletion: true,
    });
  });

  it("names a child <platform>-<part> in the platform's namespace, annotations only when there are some", () => {
    const meta = childMeta(platform, "redis", "redis", "cache");
    assert.equal(meta.name, "gaia-redis");
    assert.equal(meta.namespace, "games");
    assert.equal(meta.annotations, undefined);
    assert.deepEqual(childMeta(platform, "web", "web", "frontend", { a: "b" }).annotations, { a: "b" });
  });

  it("labels the version only with a valid label value", () => {
    assert.deepEqual(versionLabel("0.1.0"), { "app.kubernetes.io/version": "0.1.0" });
    assert.deepEqual(versionLabel("_rc"), {});
    assert.deepEqual(versionLabel("a".repeat(64)), {});
  });
});
