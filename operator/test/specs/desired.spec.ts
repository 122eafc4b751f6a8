import assert from "node:assert/strict";
import { desired } from "../../src/specs/desired.ts";
import { manifestKey } from "../../src/specs/manifest.ts";
import { migrationJobName } from "../../src/specs/migration.ts";
import { makePlatform } from "../support/platform.ts";

const IMAGE = "ghcr.io/example/gaia:0.1.0";

describe("specs/desired", () => {
  const kinds = (objects: { kind?: string }[]) => objects.map((o) => o.kind).sort();

  it("holds every child of a minimal platform once", () => {
    const { applied, created } = desired(makePlatform(), {
      servicesImage: IMAGE,
      migrationImage: IMAGE,
      configChecksum: "x",
    });
    const all = [...applied, ...created];
    assert.equal(new Set(all.map(manifestKey)).size, all.length, "no duplicates");
    const count = (kind: string) => all.filter((o) => o.kind === kind).length;
    assert.equal(count("Deployment"), 6);
    assert.equal(count("StatefulSet"), 3);
    assert.equal(count("HorizontalPodAutoscaler"), 2);
    assert.equal(count("PodDisruptionBudget"), 6);
    assert.equal(count("ServiceAccount"), 6 + 3 + 1);
    assert.equal(count("Service"), 6 + 1 + 1 + 2);
    assert.equal(count("ConfigMap"), 2);
    assert.deepEqual(
      created.map((o) => `${o.kind}/${o.metadata?.name}`),
      [
        `Job/${migrationJobName(makePlatform(), IMAGE)}`,
        "PersistentVolumeClaim/gaia-kb-data",
        "PersistentVolumeClaim/gaia-asset-data",
      ],
    );
  });

  it("keeps the asset claim with a Git-backed kb, which needs none", () => {
    const { created } = desired(makePlatform({ kb: { git: { url: "https://git.example/kb.git" } } }), {
      servicesImage: IMAGE,
      configChecksum: "x",
    });
    assert.deepEqual(
      created.map((o) => `${o.kind}/${o.metadata?.name}`),
      ["PersistentVolumeClaim/gaia-asset-data"],
    );
  });

  it("keeps Kubernetes' service links out of every pod, whose GAIA_<NAME>_PORT they would overwrite", () => {
    const { applied, created } = desired(makePlatform(), {
      servicesImage: IMAGE,
      migrationImage: IMAGE,
      configChecksum: "x",
    });
    const pods = [...applied, ...created].flatMap((o) => {
      const template = (o as { spec?: { template?: { spec?: { enableServiceLinks?: boolean } } } }).spec
        ?.template;
      return template ? [[`${o.kind}/${o.metadata?.name}`, template.spec?.enableServiceLinks] as const] : [];
    });
    assert.equal(pods.length, 6 + 3 + 1, "six Deployments, three StatefulSets, the migration Job");
    for (const [what, links] of pods) assert.equal(links, false, what);
  });

  it("labels every child and makes the platform the controller of all but volume claims", () => {
    const platform = makePlatform({ mesh: { linkerd: { enabled: true } } });
    const { applied, created } = desired(platform, {
      servicesImage: IMAGE,
      migrationImage: IMAGE,
      configChecksum: "x",
    });
    for (const object of [...applied, ...created]) {
      const what = `${object.kind}/${object.metadata?.name}`;
      const labels = object.metadata!.labels!;
      assert.equal(labels["app.kubernetes.io/instance"], "gaia", what);
      assert.equal(labels["app.kubernetes.io/part-of"], "gaia", what);
      assert.equal(labels["app.kubernetes.io/managed-by"], "gaia-operator", what);
      assert.ok(labels["app.kubernetes.io/name"], what);
      assert.ok(labels["app.kubernetes.io/component"], what);
      assert.equal(object.metadata!.namespace, "games", what);
      if (object.kind === "PersistentVolumeClaim")
        assert.equal(object.metadata!.ownerReferences, undefined, what);
      else assert.equal(object.metadata!.ownerReferences![0]!.uid, platform.metadata.uid, what);
    }
  });

  it("holds back Deployments and autoscalers until an image is migrated", () => {
    const { applied, created } = desired(makePlatform(), { migrationImage: IMAGE, configChecksum: "x" });
    assert.equal(
      applied.filter((o) => o.kind === "Deployment" || o.kind === "HorizontalPodAutoscaler").length,
      0,
    );
    assert.ok(created.some((o) => o.kind === "Job"));
  });

  it("wants no migration Job once the spec's image is migrated", () => {
    const { created } = desired(makePlatform(), { servicesImage: IMAGE, configChecksum: "x" });
    assert.deepEqual(kinds(created), ["PersistentVolumeClaim", "PersistentVolumeClaim"]);
  });
});
