import assert from "node:assert/strict";
import type { Db } from "@gaia/kit/db/client";
import { type StoppableServer, startRedis } from "../../../test/support/servers.ts";
import { until } from "../../../test/support/wait.ts";
import { hashApiKey } from "../src/apikeys.ts";
import { issueKeyForEmail } from "../src/bootstrap.ts";
import { type AuthUnderTest, startAuthUnderTest, uniqueEmail } from "./harness.ts";

describe("auth without Redis, and what the cache buys (PostgreSQL, Redis)", function () {
  this.timeout(60_000);
  let redis: StoppableServer;
  let auth: AuthUnderTest;

  before(async () => {
    redis = await startRedis();
    auth = await startAuthUnderTest({ redis });
  });
  after(async () => {
    await auth?.close();
    await redis?.stop();
  });

  it("keeps authenticating, logging in and revoking while Redis is stopped, and caches again after", async () => {
    const { email, password, login } = await auth.signUp();
    const key = await auth.call<{ key: string; id: string }>("POST", "/api/v1/auth/keys", {
      as: login.access_token,
      body: { name: "through the outage" },
    });
    const doomed = await auth.call<{ key: string; id: string }>("POST", "/api/v1/auth/keys", {
      as: login.access_token,
      body: { name: "revoked during the outage" },
    });
    assert.equal((await auth.authenticate(key.body.key)).status, 200);

    await redis.stop();
    await until(() => !auth.runtime.cache.healthy(), 10_000);
    assert.equal((await auth.authenticate(key.body.key)).status, 200);
    assert.equal((await auth.authenticate(login.access_token)).status, 200);
    const relogin = await auth.call<{ access_token: string }>("POST", "/api/v1/auth/login", {
      body: { email, password },
    });
    assert.equal(relogin.status, 200);
    assert.equal((await auth.call("GET", "/api/v1/auth/me", { as: relogin.body.access_token })).status, 200);
    const newcomer = await auth.signUp(uniqueEmail("outage"));
    assert.ok(newcomer.login.access_token);
    assert.equal((await auth.call("GET", "/health")).body.cache, "degraded");

    assert.equal((await auth.authenticate(doomed.body.key)).status, 200);
    const revoked = await auth.call("DELETE", `/api/v1/auth/keys/${doomed.body.id}`, {
      as: login.access_token,
    });
    assert.equal(revoked.status, 204);
    assert.equal((await auth.authenticate(doomed.body.key)).status, 401);

    await redis.start();
    await until(() => auth.runtime.cache.healthy(), 10_000);
    assert.equal((await auth.authenticate(key.body.key)).status, 200);
    assert.ok(await auth.runtime.cache.get(`authn:${hashApiKey(key.body.key)}`), "cached again");
    assert.equal((await auth.authenticate(doomed.body.key)).status, 401);
  });

  it("answers a cached validation from the cache alone, without asking the database", async () => {
    const { key } = await issueKeyForEmail(auth.runtime.db.prisma, uniqueEmail("cached"), "user", "cached");
    const queries: string[] = [];
    const counted = auth.runtime.db.prisma.$extends({
      query: {
        $allOperations({ model, operation, args, query }) {
          queries.push(`${model ?? "raw"}.${operation}`);
          return query(args);
        },
      },
    }) as unknown as Db;
    const { createAuthCore } = await import("../src/core.ts");
    // No last-used flush while the test counts.
    const core = await createAuthCore(
      { db: counted, cache: auth.runtime.cache, bus: auth.runtime.bus, log: auth.runtime.log },
      { ...auth.settings, lastUsedFlushSeconds: 3600 },
    );
    try {
      await auth.runtime.cache.del(`authn:${hashApiKey(key)}`);
      queries.length = 0;
      const first = await core.authenticator.authenticate({ apiKey: key });
      assert.ok(
        queries.some((q) => q.startsWith("ApiKey.")),
        `a miss reads the key: ${queries.join(", ")}`,
      );
      queries.length = 0;
      const second = await core.authenticator.authenticate({ apiKey: key });
      assert.deepEqual(second, first);
      assert.deepEqual(queries, [], "a hit asks the database nothing");
    } finally {
      await core.stop();
    }
  });
});
