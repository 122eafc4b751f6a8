import assert from "node:assert/strict";
import { autoscalers } from "../../src/specs/hpa.ts";
import { makePlatform } from "../support/platform.ts";

describe("specs/hpa", () => {
  it("scales the gateway 2-10 and chat 1-5 on 70 % CPU by default", () => {
    const hpas = autoscalers(makePlatform());
    assert.deepEqual(
      hpas.map((h) => [
        h.metadata!.name,
        h.spec!.scaleTargetRef.name,
        h.spec!.minReplicas,
        h.spec!.maxReplicas,
      ]),
      [
        ["gaia-gateway", "gaia-gateway", 2, 10],
        ["gaia-chat", "gaia-chat", 1, 5],
      ],
    );
    assert.equal(hpas[0]!.apiVersion, "autoscaling/v2");
    assert.deepEqual(hpas[0]!.spec!.metrics, [
      {
        type: "Resource",
        resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } },
      },
    ]);
    assert.deepEqual(hpas[0]!.spec!.scaleTargetRef, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: "gaia-gateway",
    });
  });

  it("follows the spec: another service autoscaled, one switched off", () => {
    const hpas = autoscalers(
      makePlatform({
        services: {
          chat: { autoscaling: { enabled: false } },
          kb: { autoscaling: { minReplicas: 2, maxReplicas: 4, targetCPUUtilization: 50 } },
          gateway: {},
        },
        kb: { git: { url: "https://g/kb.git" } },
      }),
    );
    assert.deepEqual(
      hpas.map((h) => [h.metadata!.name, h.spec!.minReplicas, h.spec!.maxReplicas]),
      [
        ["gaia-gateway", 2, 10],
        ["gaia-kb", 2, 4],
      ],
    );
    assert.equal(hpas[1]!.spec!.metrics![0]!.resource!.target.averageUtilization, 50);
  });
});
