import assert from "node:assert/strict";
import { configFromEnv } from "../src/config.ts";

describe("config", () => {
  it("defaults: all namespaces, port 8080, lease in default, resync 5 min, 4 workers", () => {
    assert.deepEqual(configFromEnv({}), {
      watchNamespace: undefined,
      metricsPort: 8080,
      leaseNamespace: "default",
      identity: undefined,
      resyncSeconds: 300,
      workers: 4,
    });
  });

  it("reads WATCH_NAMESPACE, METRICS_PORT, LEADER_ELECTION_NAMESPACE, POD_NAME, RESYNC_SECONDS, WORKERS", () => {
    assert.deepEqual(
      configFromEnv({
        WATCH_NAMESPACE: "games",
        METRICS_PORT: "9090",
        LEADER_ELECTION_NAMESPACE: "gaia-system",
        POD_NAME: "gaia-operator-7d9c",
        RESYNC_SECONDS: "60",
        WORKERS: "8",
      }),
      {
        watchNamespace: "games",
        metricsPort: 9090,
        leaseNamespace: "gaia-system",
        identity: "gaia-operator-7d9c",
        resyncSeconds: 60,
        workers: 8,
      },
    );
  });

  it("puts the Lease in the operator's own namespace, else the watched one", () => {
    assert.equal(configFromEnv({ POD_NAMESPACE: "ops", WATCH_NAMESPACE: "games" }).leaseNamespace, "ops");
    assert.equal(configFromEnv({ WATCH_NAMESPACE: "games" }).leaseNamespace, "games");
  });

  it("names the variable that is wrong", () => {
    assert.throws(
      () => configFromEnv({ METRICS_PORT: "eighty" }),
      /METRICS_PORT: expected an integer from 0 to 65535/,
    );
    assert.throws(() => configFromEnv({ RESYNC_SECONDS: "1" }), /RESYNC_SECONDS/);
  });
});
