import assert from "node:assert/strict";
import { decideLease, microTime, releasedRecord } from "../../src/controller/leader.ts";

describe("controller/leader", () => {
  const T0 = Date.parse("2026-11-25T12:00:00Z");

  it("writes MicroTime with six fractional digits", () => {
    assert.equal(microTime(T0 + 123), "2026-11-25T12:00:00.123000Z");
  });

  it("creates the Lease when there is none", () => {
    assert.deepEqual(decideLease(undefined, "a", T0, T0, 15), {
      action: "create",
      record: {
        holderIdentity: "a",
        leaseDurationSeconds: 15,
        acquireTime: microTime(T0),
        renewTime: microTime(T0),
        leaseTransitions: 0,
      },
    });
  });

  it("renews its own Lease", () => {
    const record = {
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      acquireTime: "t",
      renewTime: "t",
      leaseTransitions: 2,
    };
    assert.deepEqual(decideLease(record, "a", T0, T0 - 60_000, 15), {
      action: "renew",
      record: { ...record, renewTime: microTime(T0) },
    });
  });

  it("waits while another holder's record keeps changing within the lease duration", () => {
    const record = { holderIdentity: "b", leaseDurationSeconds: 15, renewTime: "whatever clock b has" };
    assert.deepEqual(decideLease(record, "a", T0 + 14_999, T0, 15), { action: "wait", holder: "b" });
  });

  it("takes over a Lease unchanged for a whole duration by its own clock, counting the transition", () => {
    const record = { holderIdentity: "b", leaseDurationSeconds: 15, renewTime: "t", leaseTransitions: 4 };
    const decision = decideLease(record, "a", T0 + 15_000, T0, 15);
    assert.equal(decision.action, "takeover");
    assert.deepEqual(decision.action === "takeover" && decision.record, {
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      acquireTime: microTime(T0 + 15_000),
      renewTime: microTime(T0 + 15_000),
      leaseTransitions: 5,
    });
  });

  it("takes over a released Lease at once", () => {
    const released = releasedRecord(
      { holderIdentity: "b", leaseDurationSeconds: 15, leaseTransitions: 1 },
      T0,
    );
    assert.equal(released.holderIdentity, "");
    assert.equal(decideLease(released, "a", T0, T0, 15).action, "takeover");
  });
});
