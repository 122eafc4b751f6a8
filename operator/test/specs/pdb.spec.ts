import assert from "node:assert/strict";
import { disruptionBudgets } from "../../src/specs/pdb.ts";
import { makePlatform } from "../support/platform.ts";

describe("specs/pdb", () => {
  it("lets a drain take at most one pod of each service", () => {
    const budgets = disruptionBudgets(makePlatform());
    assert.deepEqual(
      budgets.map((b) => b.metadata!.name),
      ["gaia-gateway", "gaia-auth", "gaia-asset", "gaia-chat", "gaia-kb", "gaia-web"],
    );
    for (const budget of budgets) {
      assert.equal(budget.spec!.maxUnavailable, 1);
      assert.equal(budget.spec!.minAvailable, undefined, "a single replica must not block drains");
      assert.equal(budget.spec!.selector!.matchLabels!["app.kubernetes.io/instance"], "gaia");
    }
  });

  it("protects a NATS cluster's quorum, not a single server", () => {
    const names = (spec: Record<string, unknown>) =>
      disruptionBudgets(makePlatform(spec)).map((b) => b.metadata!.name);
    assert.ok(names({ nats: { managed: { replicas: 3 } } }).includes("gaia-nats"));
    assert.ok(!names({}).includes("gaia-nats"));
  });
});
