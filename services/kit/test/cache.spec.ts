import assert from "node:assert/strict";
import { type StoppableServer, startRedis } from "../../../test/support/servers.ts";
import { sleep, until } from "../../../test/support/wait.ts";
import { type Cache, getJson, MemoryCache, RedisCache, setJson } from "../src/cache.ts";
import { createLogger } from "../src/log.ts";

const log = createLogger("test", "silent");

/** The same behaviour is required of both implementations. */
function behavesAsCache(make: () => Promise<Cache>) {
  let cache: Cache;
  before(async () => {
    cache = await make();
  });
  after(() => cache.close());

  it("stores, reads and deletes values", async () => {
    await cache.set("a", "1", 60);
    await setJson(cache, "j", { x: [1, 2] }, 60);
    assert.equal(await cache.get("a"), "1");
    assert.deepEqual(await getJson(cache, "j"), { x: [1, 2] });
    await cache.del("a", "j");
    assert.equal(await cache.get("a"), null);
    assert.equal(await getJson(cache, "j"), null);
  });

  it("keeps sets of members with a TTL", async () => {
    await cache.addToSet("idx", ["a", "b"], 60);
    await cache.addToSet("idx", ["b", "c"], 60);
    assert.deepEqual((await cache.setMembers("idx")).sort(), ["a", "b", "c"]);
    await cache.del("idx");
    assert.deepEqual(await cache.setMembers("idx"), []);
    await cache.addToSet("brief", ["x"], 0.15);
    await sleep(250);
    assert.deepEqual(await cache.setMembers("brief"), []);
  });

  it("expires values after their TTL", async () => {
    await cache.set("short", "v", 0.15);
    assert.equal(await cache.get("short"), "v");
    await sleep(250);
    assert.equal(await cache.get("short"), null);
  });

  it("counts in a window that starts at the first increment", async () => {
    const first = await cache.incr("counter", 0.3);
    const second = await cache.incr("counter", 0.3);
    assert.equal(first?.count, 1);
    assert.equal(second?.count, 2);
    assert.ok(second!.ttlMs > 0 && second!.ttlMs <= 300);
    await sleep(400);
    assert.equal((await cache.incr("counter", 0.3))?.count, 1);
  });

  it("adds and takes away by a step, and a counter a decrement made anew still expires", async () => {
    assert.equal((await cache.incr("stepped", 60, 3))?.count, 3);
    const down = await cache.incr("stepped", 60, -1);
    assert.equal(down?.count, 2);
    assert.ok(down!.ttlMs > 59_000, "a step keeps the window");
    // The window ended between an increment and its matching decrement.
    const orphan = await cache.incr("orphan", 0.3, -1);
    assert.equal(orphan?.count, -1);
    assert.ok(orphan!.ttlMs > 0 && orphan!.ttlMs <= 300);
    await sleep(400);
    assert.equal((await cache.incr("orphan", 0.3))?.count, 1, "gone with its TTL, not kept forever");
  });
}

describe("cache: memory", () => behavesAsCache(async () => new MemoryCache()));

describe("cache: redis", () => {
  let redis: StoppableServer;
  before(async () => {
    redis = await startRedis();
  });
  behavesAsCache(async () => {
    const cache = new RedisCache(redis.url, log, `t${Date.now()}:`);
    await until(() => cache.healthy());
    return cache;
  });

  it("keeps answering while Redis is stopped, then recovers", async () => {
    const cache = new RedisCache(redis.url, log, "outage:");
    await until(() => cache.healthy());
    await cache.set("k", "before", 60);
    await redis.stop();
    await until(() => !cache.healthy());
    // Each call returns while Redis is still down: none waits in a queue for the connection to come back.
    assert.equal(await cache.get("k"), null, "a read during the outage is a miss");
    await cache.set("k2", "dropped", 60);
    assert.equal(await cache.incr("n", 60), null);
    assert.ok(!cache.healthy(), "still disconnected when the calls returned");
    await redis.start();
    await until(() => cache.healthy(), 10_000);
    await cache.set("k3", "after", 60);
    assert.equal(await cache.get("k3"), "after");
    await cache.close();
  });
});
