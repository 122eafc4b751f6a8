import assert from "node:assert/strict";
import {
  migrationJob,
  migrationJobName,
  migrationServiceAccount,
  specImage,
} from "../../src/specs/migration.ts";
import { makePlatform } from "../support/platform.ts";

describe("specs/migration", () => {
  const platform = makePlatform({ image: { repository: "ghcr.io/example/gaia", tag: "0.2.0" } });

  it("names one Job per image reference", () => {
    assert.equal(specImage(platform), "ghcr.io/example/gaia:0.2.0");
    const name = migrationJobName(platform, "ghcr.io/example/gaia:0.2.0");
    assert.match(name, /^gaia-migrate-[0-9a-f]{10}$/);
    assert.equal(migrationJobName(platform, "ghcr.io/example/gaia:0.2.0"), name);
    assert.notEqual(migrationJobName(platform, "ghcr.io/example/gaia:0.3.0"), name);
    assert.notEqual(migrationJobName(platform, "ghcr.io/other/gaia:0.2.0"), name);
  });

  it("runs `gaia db migrate` of that image against the platform's database, once", () => {
    const job = migrationJob(platform, "ghcr.io/example/gaia:0.2.0");
    assert.equal(job.metadata!.name, migrationJobName(platform, "ghcr.io/example/gaia:0.2.0"));
    assert.equal(job.metadata!.ownerReferences![0]!.uid, platform.metadata.uid);
    const pod = job.spec!.template.spec!;
    assert.equal(pod.restartPolicy, "Never");
    assert.equal(pod.serviceAccountName, "gaia-migrate");
    const c = pod.containers[0]!;
    assert.equal(c.image, "ghcr.io/example/gaia:0.2.0");
    assert.deepEqual(c.command, ["gaia", "db", "migrate"]);
    assert.equal(
      c.env!.find((e) => e.name === "DATABASE_URL")!.value,
      "postgresql://gaia:$(GAIA_POSTGRES_PASSWORD)@gaia-postgres:5432/gaia",
    );
    // As the owner it makes each service's role, so it holds their passwords (and nothing of Redis or NATS).
    for (const service of ["auth", "asset", "chat", "kb"])
      assert.deepEqual(
        c.env!.find((e) => e.name === `GAIA_DB_PASSWORD_${service.toUpperCase()}`)?.valueFrom,
        {
          secretKeyRef: { name: "gaia-postgres-roles", key: service },
        },
      );
    assert.equal(
      c.env!.some((e) => /REDIS|NATS/.test(e.name)),
      false,
    );
    assert.equal(job.spec!.backoffLimit, 6);
    assert.equal(job.spec!.template.metadata!.labels!["app.kubernetes.io/version"], "0.2.0");
  });

  it("gives the Job its own identity for the mesh", () => {
    assert.equal(migrationServiceAccount(platform).metadata!.name, "gaia-migrate");
  });
});
