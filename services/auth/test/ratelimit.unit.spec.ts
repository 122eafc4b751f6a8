import assert from "node:assert/strict";
import { type Cache, type HttpError, MemoryCache } from "@gaia/kit";
import { backoffSeconds, LoginLimiter, type LoginLimits } from "../src/ratelimit.ts";
import { loadAuthSettings } from "../src/settings.ts";

const limits: LoginLimits = {
  freeFailures: 2,
  freeFailuresPerIp: 100,
  maxDelaySeconds: 8,
  windowSeconds: 900,
  registrationsPerIp: 3,
};

/** A cache whose server is away: every call answers as RedisCache does while Redis is down. */
function awayCache(): Cache {
  const memory = new MemoryCache();
  return Object.assign(Object.create(memory) as Cache, {
    incr: async () => null,
    get: async () => null,
    set: async () => {},
    healthy: () => false,
  });
}

/** The 429 an attempt gets, as seconds to wait; fails when the attempt was let through. */
async function refusal(attempt: Promise<unknown>): Promise<number> {
  let seconds = 0;
  await assert.rejects(attempt, (error: HttpError) => {
    assert.equal(error.status, 429);
    seconds = Number(error.headers["Retry-After"]);
    const unit = seconds === 1 ? "second" : "seconds";
    assert.equal(error.detail, `Too many failed logins; try again in ${seconds} ${unit}`);
    return true;
  });
  return seconds;
}

describe("login throttling (unit)", () => {
  let now: number;
  let cache: MemoryCache;
  let limiter: LoginLimiter;
  const fail = async (email: string, ip: string) => (await limiter.attempt(email, ip)).failed();

  beforeEach(() => {
    now = 1_000_000;
    cache = new MemoryCache(() => now);
    limiter = new LoginLimiter(cache, limits, () => now);
  });

  it("waits nothing for the free failures, then one second, doubling, up to the cap", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 40, 5000].map((n) => backoffSeconds(n, 2, 8)),
      [0, 0, 1, 2, 4, 8, 8, 8, 8],
    );
    assert.equal(backoffSeconds(30, 5, 300), 300);
  });

  it("answers attempts inside the wait with 429 and how long is left, and doubles the wait per failure", async () => {
    for (let i = 0; i < 3; i++) await fail("a@x.io", "10.0.0.1");
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const wait = await refusal(limiter.attempt("a@x.io", "10.0.0.1"));
      waits.push(wait);
      now += 400;
      // Knocking again inside the wait is refused without making the wait longer.
      assert.equal(await refusal(limiter.attempt("a@x.io", "10.0.0.1")), Math.ceil(wait - 0.4));
      now += wait * 1000;
      await fail("a@x.io", "10.0.0.1");
    }
    assert.deepEqual(waits, [1, 2, 4, 8, 8]);
  });

  it("starts an email and address over after a success, and never slows another address", async () => {
    for (let i = 0; i < 4; i++) {
      if (i > 0) now += 60_000;
      await fail("owner@x.io", "10.0.0.1");
    }
    assert.equal(await refusal(limiter.attempt("owner@x.io", "10.0.0.1")), 2);
    // The owner, elsewhere, is let through at once, however long the guesser goes on.
    await (await limiter.attempt("owner@x.io", "10.0.0.2")).succeeded();
    now += 2000;
    await (await limiter.attempt("owner@x.io", "10.0.0.1")).succeeded();
    for (let i = 0; i < 3; i++) await fail("owner@x.io", "10.0.0.1");
    assert.equal(await refusal(limiter.attempt("owner@x.io", "10.0.0.1")), 1, "counted from zero again");
  });

  it("slows one address across many emails once it passes its own free failures; its successes do not count", async () => {
    const perIp = new LoginLimiter(cache, { ...limits, freeFailuresPerIp: 3 }, () => now);
    for (const n of [1, 2, 3]) {
      await (await perIp.attempt(`u${n}@x.io`, "10.0.0.3")).failed();
      await (await perIp.attempt(`ok${n}@x.io`, "10.0.0.3")).succeeded();
    }
    await (await perIp.attempt("u4@x.io", "10.0.0.3")).failed();
    await assert.rejects(perIp.attempt("u5@x.io", "10.0.0.3"), (e: HttpError) => e.status === 429);
    await (await perIp.attempt("u5@x.io", "10.0.0.4")).failed();
  });

  it("lets one attempt of a burst through past the free failures, however many come at once", async () => {
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, () => limiter.attempt("burst@x.io", "10.0.0.5")),
    );
    const through = outcomes.filter((o) => o.status === "fulfilled");
    assert.equal(through.length, limits.freeFailures + 1);
    for (const attempt of through) await attempt.value.failed();
    // The refused ones were not counted: three failures, so one second to wait, not more.
    assert.equal(await refusal(limiter.attempt("burst@x.io", "10.0.0.5")), 1);
  });

  it("does not count an attempt that was never judged", async () => {
    for (let i = 0; i < 2; i++) await fail("db@x.io", "10.0.0.6");
    for (let i = 0; i < 5; i++) await (await limiter.attempt("db@x.io", "10.0.0.6")).abandoned();
    await fail("db@x.io", "10.0.0.6");
    assert.equal(await refusal(limiter.attempt("db@x.io", "10.0.0.6")), 1);
  });

  it("keeps counting in this process while the shared cache is away", async () => {
    const alone = new LoginLimiter(awayCache(), limits, () => now);
    for (let i = 0; i < 3; i++) await (await alone.attempt("away@x.io", "10.0.0.7")).failed();
    assert.equal(await refusal(alone.attempt("away@x.io", "10.0.0.7")), 1);
    for (let i = 0; i < 3; i++) await alone.registration("10.0.0.7");
    await assert.rejects(alone.registration("10.0.0.7"), (e: HttpError) => e.status === 429);
  });

  it("limits registrations per address and window", async () => {
    for (let i = 0; i < 3; i++) await limiter.registration("10.0.0.8");
    await assert.rejects(limiter.registration("10.0.0.8"), (e: HttpError) => {
      assert.equal(e.status, 429);
      assert.equal(e.headers["Retry-After"], "900");
      return true;
    });
    await limiter.registration("10.0.0.9");
    now += 900_000;
    await limiter.registration("10.0.0.8");
  });

  it("reads its limits from the environment, and stops on a variable whose meaning changed", () => {
    assert.deepEqual(loadAuthSettings({}).login, {
      freeFailures: 5,
      freeFailuresPerIp: 100,
      maxDelaySeconds: 300,
      windowSeconds: 900,
      registrationsPerIp: 100,
    });
    assert.equal(loadAuthSettings({ GAIA_LOGIN_FREE_FAILURES: "0" }).login.freeFailures, 0);
    assert.throws(
      () => loadAuthSettings({ GAIA_LOGIN_LIMIT_PER_EMAIL: "10" }),
      /^ConfigError: GAIA_LOGIN_LIMIT_PER_EMAIL: no longer read; set GAIA_LOGIN_FREE_FAILURES/,
    );
    assert.doesNotThrow(() => loadAuthSettings({ GAIA_LOGIN_LIMIT_PER_IP: "" }));
  });
});
