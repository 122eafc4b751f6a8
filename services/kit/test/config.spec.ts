import assert from "node:assert/strict";
import { z } from "zod";
import { platformEnv, readEnv } from "../src/config.ts";
import { ConfigError } from "../src/errors.ts";
import { serviceUrl } from "../src/registry.ts";

describe("config", () => {
  it("names the variable and what it expects when a value is bad", () => {
    assert.throws(
      () => readEnv(platformEnv, { GAIA_AUTH_URL: "localhost:8001" }),
      (error: Error) =>
        error instanceof ConfigError &&
        error.message === 'GAIA_AUTH_URL: expected a http:// or https:// URL (got "localhost:8001")',
    );
    // A URL that may carry a password is never echoed.
    assert.throws(
      () => readEnv(platformEnv, { NATS_URL: "user:secret@localhost:4222" }),
      (error: Error) => error instanceof ConfigError && !error.message.includes("secret"),
    );
  });

  it("names a missing required variable", () => {
    const schema = z.object({ OPENAI_BASE_URL: z.string().url() });
    assert.throws(() => readEnv(schema, {}), /^ConfigError: OPENAI_BASE_URL: .* \(it is not set\)$/);
  });

  it("never echoes the value of a secret-looking variable", () => {
    assert.throws(
      () => readEnv(platformEnv, { REDIS_URL: "hunter2-password" }),
      (error: Error) => error.message.includes("value hidden") && !error.message.includes("hunter2"),
    );
  });

  it("applies defaults and treats empty strings as unset", () => {
    const env = readEnv(platformEnv, { DATABASE_URL: "", GAIA_CHAT_PORT: "9003" });
    assert.equal(env.DATABASE_URL, undefined);
    assert.equal(env.GAIA_CHAT_PORT, 9003);
    assert.equal(env.GAIA_GATEWAY_PORT, 8666);
  });

  it("binds loopback unless GAIA_BIND names another address, and takes only an IP address", () => {
    assert.equal(readEnv(platformEnv, {}).GAIA_BIND, "127.0.0.1");
    assert.equal(readEnv(platformEnv, { GAIA_BIND: "" }).GAIA_BIND, "127.0.0.1");
    assert.equal(readEnv(platformEnv, { GAIA_BIND: "0.0.0.0" }).GAIA_BIND, "0.0.0.0");
    assert.equal(readEnv(platformEnv, { GAIA_BIND: "::" }).GAIA_BIND, "::");
    for (const bad of ["localhost", "0.0.0.0:8666", "256.1.1.1"]) {
      assert.throws(
        () => readEnv(platformEnv, { GAIA_BIND: bad }),
        (error: Error) =>
          error instanceof ConfigError &&
          error.message ===
            `GAIA_BIND: expected an IP address, e.g. 127.0.0.1 or 0.0.0.0 (got ${JSON.stringify(bad)})`,
      );
    }
  });

  it("finds services by explicit URL, in a cluster, or locally", () => {
    assert.equal(
      serviceUrl(readEnv(platformEnv, { GAIA_KB_URL: "http://kb.example:9/" }), "kb"),
      "http://kb.example:9",
    );
    assert.equal(
      serviceUrl(readEnv(platformEnv, { GAIA_IN_CLUSTER: "true" }), "auth"),
      "http://gaia-auth:8001",
    );
    assert.equal(
      serviceUrl(readEnv(platformEnv, { GAIA_CHAT_PORT: "9100" }), "chat"),
      "http://127.0.0.1:9100",
    );
  });
});
