import assert from "node:assert/strict";
import { type Cache, type Identity, MemoryCache } from "@gaia/kit";
import {
  decide,
  leaseSize,
  limitFor,
  RateLimiter,
  type RateLimits,
  rateLimitHeaders,
  rateSubject,
} from "../src/ratelimit.ts";

const limits: RateLimits = {
  windowSeconds: 60,
  perMinute: { admin: 600, developer: 300, user: 120, guest: 30, anonymous: 3 },
};

const identity = (over: Partial<Identity> = {}): Identity => ({
  userId: "u-1",
  role: "user",
  permissions: ["chat:create"],
  authType: "jwt",
  ...over,
});

/** A cache whose server is away: every counter answers null, as RedisCache does while Redis is down. */
function awayCache(): Cache {
  const memory = new MemoryCache();
  return Object.assign(Object.create(memory) as Cache, {
    incr: async () => null,
    get: async () => null,
    healthy: () => false,
  });
}

describe("gateway rate limiting", () => {
  it("keys a user by their id, whichever key or session they call with, and anyone else by address", () => {
    assert.deepEqual(
      rateSubject(identity(), () => "10.0.0.1"),
      { key: "user:u-1", tier: "user" },
    );
    assert.deepEqual(
      rateSubject(identity({ authType: "api_key", keyId: "k-9", role: "developer" }), () => "10.0.0.1"),
      { key: "user:u-1", tier: "developer" },
    );
    assert.deepEqual(
      rateSubject(undefined, () => "10.0.0.1"),
      { key: "ip:10.0.0.1", tier: "anonymous" },
    );
  });

  it("scales per-minute limits to the window", () => {
    assert.equal(limitFor(limits, "admin"), 600);
    assert.equal(limitFor({ ...limits, windowSeconds: 1 }, "admin"), 10);
    assert.equal(limitFor({ ...limits, windowSeconds: 1 }, "anonymous"), 1, "never below one");
  });

  it("decides and describes: RateLimit-* always, Retry-After once refused", () => {
    const ok = decide(2, 3, 30_500, 60);
    assert.deepEqual(ok, { allowed: true, limit: 3, remaining: 1, resetSeconds: 31 });
    assert.deepEqual(rateLimitHeaders(ok), {
      "RateLimit-Limit": "3",
      "RateLimit-Remaining": "1",
      "RateLimit-Reset": "31",
    });
    const refused = decide(4, 3, 10_000, 60);
    assert.equal(refused.allowed, false);
    assert.equal(refused.remaining, 0);
    assert.equal(rateLimitHeaders(refused)["Retry-After"], "10");
  });

  it("counts in the shared cache per subject and window", async () => {
    const limiter = new RateLimiter(new MemoryCache(), limits);
    const anon = rateSubject(undefined, () => "10.0.0.2");
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await limiter.check(anon));
    assert.deepEqual(
      results.map((d) => [d.allowed, d.remaining]),
      [
        [true, 2],
        [true, 1],
        [true, 0],
        [false, 0],
      ],
    );
    assert.equal(
      (await limiter.check(rateSubject(undefined, () => "10.0.0.3"))).allowed,
      true,
      "another address",
    );
  });

  it("keeps limiting in process memory while the cache is away, and starts a new window after the old", async () => {
    let now = 1_000_000;
    const limiter = new RateLimiter(awayCache(), limits, () => now);
    const anon = rateSubject(undefined, () => "10.0.0.4");
    for (let i = 0; i < 3; i++) assert.equal((await limiter.check(anon)).allowed, true);
    const refused = await limiter.check(anon);
    assert.equal(refused.allowed, false);
    assert.equal(refused.resetSeconds, 60);
    now += 60_000;
    assert.equal((await limiter.check(anon)).allowed, true);
  });

  const settle = () => new Promise((r) => setImmediate(r));

  it("counts hit by hit in the shared cache under 100 a window; replicas hear of each other one round trip late", async () => {
    const shared = new MemoryCache();
    const sixty = { ...limits, perMinute: { ...limits.perMinute, user: 60 } };
    const a = new RateLimiter(shared, sixty);
    const b = new RateLimiter(shared, sixty);
    const subject = rateSubject(identity(), () => "10.0.0.6");
    assert.equal(leaseSize(60), 1);
    assert.equal((await a.check(subject)).remaining, 59, "a's first hit waits for the shared count");
    assert.equal((await a.check(subject)).remaining, 58);
    await settle();
    assert.equal((await b.check(subject)).remaining, 57, "b starts from the shared count");
    assert.equal(await shared.get("ratelimit:user:u-1"), "3");
    // a decides on its mirror at once (it has not heard of b's hit yet); its increment corrects the mirror.
    assert.equal((await a.check(subject)).remaining, 57);
    await settle();
    assert.equal((await a.check(subject)).remaining, 55);
    await settle();
    assert.equal(await shared.get("ratelimit:user:u-1"), "5", "every hit reached the shared counter");
  });

  it("takes larger limits from the shared counter in leases of 2 %: exact alone, strict by under a lease shared", async () => {
    const shared = new MemoryCache();
    const a = new RateLimiter(shared, limits);
    const b = new RateLimiter(shared, limits);
    const admin = rateSubject(identity({ role: "admin", userId: "u-admin" }), () => "10.0.0.7");
    assert.equal(leaseSize(600), 12);
    let last = await a.check(admin);
    for (let i = 1; i < 30; i++) {
      await settle();
      last = await a.check(admin);
    }
    await settle();
    assert.equal(last.remaining, 570, "one replica counts exactly");
    assert.equal(await shared.get("ratelimit:user:u-admin"), "3", "30 hits took three leases of 12");
    const fromB = await b.check(admin);
    // 31 hits so far; b counts a's unused lease as used: 48 leased - b's own 11 spare = 37.
    assert.equal(fromB.remaining, 600 - 37);
    assert.ok(600 - 31 - fromB.remaining < leaseSize(600));
    assert.equal(leaseSize(1_000_000), 32, "a lease is never more than 32 hits");
  });
});
