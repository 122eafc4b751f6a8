import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { type StoppableServer, startRedis } from "../../../test/support/servers.ts";
import { until } from "../../../test/support/wait.ts";
import { hashApiKey } from "../src/apikeys.ts";
import { issueKeyForEmail } from "../src/bootstrap.ts";
import { type AuthUnderTest, startAuthUnderTest, uniqueEmail } from "./harness.ts";

const median = (samples: number[]) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;

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

  it("answers a cached validation measurably faster than an uncached one", async () => {
    const { key } = await issueKeyForEmail(auth.runtime.db.prisma, uniqueEmail("timing"), "user", "timing");
    const entry = `authn:${hashApiKey(key)}`;
    const { createAuthCore } = await import("../src/core.ts");
    const core = await createAuthCore(
      { db: auth.runtime.db.prisma, cache: auth.runtime.cache, bus: auth.runtime.bus, log: auth.runtime.log },
      auth.settings,
    );
    try {
      const timeOne = async (uncached: boolean) => {
        if (uncached) await auth.runtime.cache.del(entry);
        const started = performance.now();
        await core.authenticator.authenticate({ apiKey: key });
        return performance.now() - started;
      };
      for (let i = 0; i < 30; i++) await timeOne(i % 2 === 0);
      const uncached: number[] = [];
      const cached: number[] = [];
      for (let i = 0; i < 150; i++) {
        uncached.push(await timeOne(true));
        cached.push(await timeOne(false));
      }
      const ratio = median(uncached) / median(cached);
      assert.ok(
        ratio > 3,
        `median uncached ${median(uncached).toFixed(3)} ms, cached ${median(cached).toFixed(3)} ms (${ratio.toFixed(1)}x)`,
      );
    } finally {
      await core.stop();
    }
  });
});
