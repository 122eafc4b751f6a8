import assert from "node:assert/strict";
import type { V1Job } from "@kubernetes/client-node";
import { jobPhase, planRollout } from "../../src/controller/rollout.ts";
import { makePlatform } from "../support/platform.ts";

const OLD = "ghcr.io/example/gaia:0.1.0";
const NEW = "ghcr.io/example/gaia:0.2.0";

const job = (condition?: { type: string; message?: string }): V1Job => ({
  metadata: { name: "gaia-migrate-x" },
  status: condition
    ? { conditions: [{ type: condition.type, status: "True", message: condition.message }] }
    : {},
});

describe("controller/rollout", () => {
  const upgrading = makePlatform(
    { image: { repository: "ghcr.io/example/gaia", tag: "0.2.0" } },
    { status: { migratedImage: OLD } },
  );

  it("reads a Job's phase from its conditions", () => {
    assert.equal(jobPhase(undefined).phase, "Pending");
    assert.equal(jobPhase(job()).phase, "Running");
    assert.equal(jobPhase(job({ type: "Complete" })).phase, "Succeeded");
    assert.deepEqual(jobPhase(job({ type: "Failed", message: "BackoffLimitExceeded" })), {
      phase: "Failed",
      message: "BackoffLimitExceeded",
    });
  });

  it("on first install runs the migration and creates no Deployment until it succeeds", () => {
    const fresh = makePlatform();
    assert.deepEqual(planRollout(fresh, undefined), {
      servicesImage: undefined,
      migrationImage: OLD,
      migratedImage: undefined,
      migration: { image: OLD, phase: "Pending", message: "the migration Job is being created" },
    });
  });

  it("keeps the services on the previous image while the new image's migration runs", () => {
    const plan = planRollout(upgrading, job());
    assert.equal(plan.servicesImage, OLD);
    assert.equal(plan.migrationImage, NEW);
    assert.equal(plan.migratedImage, OLD);
    assert.equal(plan.migration?.phase, "Running");
  });

  it("moves the services when the migration succeeded and records it", () => {
    const plan = planRollout(upgrading, job({ type: "Complete" }));
    assert.equal(plan.servicesImage, NEW);
    assert.equal(plan.migratedImage, NEW);
    assert.equal(plan.migrationImage, NEW, "the Job stays until the status records it");
  });

  it("stays on the previous image when the migration failed", () => {
    const plan = planRollout(upgrading, job({ type: "Failed" }));
    assert.equal(plan.servicesImage, OLD);
    assert.equal(plan.migration?.phase, "Failed");
  });

  it("wants no Job once the image is recorded as migrated", () => {
    const done = makePlatform(
      { image: { repository: "ghcr.io/example/gaia", tag: "0.2.0" } },
      { status: { migratedImage: NEW } },
    );
    assert.deepEqual(planRollout(done, undefined), { servicesImage: NEW, migratedImage: NEW });
  });
});
