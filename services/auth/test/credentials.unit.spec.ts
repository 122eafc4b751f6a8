import assert from "node:assert/strict";
import { authnSealKey, createLogger, type Identity, MemoryBus, MemoryCache } from "@gaia/kit";
import { CredentialCache } from "../src/credentials.ts";

const alice: Identity = {
  userId: "alice",
  role: "user",
  permissions: ["kb:read"],
  authType: "api_key",
  keyId: "k1",
};

describe("credential cache (unit, in-memory cache and bus)", () => {
  let cache: MemoryCache;
  let bus: MemoryBus;
  let credentials: CredentialCache;
  let revoked: string[][];

  beforeEach(() => {
    cache = new MemoryCache();
    bus = new MemoryBus();
    credentials = new CredentialCache(
      cache,
      bus,
      createLogger("test", "silent"),
      authnSealKey("t".repeat(32)),
    );
    revoked = [];
    bus.subscribe("gaia.auth.credential.revoked", (payload) => {
      revoked.push((payload as { hashes: string[] }).hashes);
    });
  });

  const settle = () => new Promise((r) => setTimeout(r, 5));

  it("stores an identity under authn:<hash> and drops every entry of a user at once", async () => {
    await credentials.put("h1", alice, 600, await credentials.epoch());
    await credentials.put(
      "h2",
      { ...alice, authType: "jwt", keyId: undefined },
      900,
      await credentials.epoch(),
    );
    await credentials.put("h3", { ...alice, userId: "bob" }, 600, await credentials.epoch());
    assert.deepEqual(JSON.parse((await cache.get("authn:h1"))!).identity, alice);
    assert.deepEqual((await cache.setMembers("authn-user:alice")).sort(), ["h1", "h2"]);

    await credentials.forgetUser("alice");
    assert.equal(await credentials.get("h1"), null);
    assert.equal(await credentials.get("h2"), null);
    assert.ok(await credentials.get("h3"), "another user's entry stays");
    await settle();
    assert.deepEqual(
      revoked.map((hashes) => hashes.sort()),
      [["h1", "h2"]],
    );
  });

  it("does not keep an entry made from a database read that an invalidation overtook", async () => {
    const epoch = await credentials.epoch();
    // ...the database said the key was fine; meanwhile an admin disables the user...
    await credentials.forgetUser("alice");
    await credentials.put("late", alice, 600, epoch);
    assert.equal(await credentials.get("late"), null);
    await settle();
    assert.ok(
      revoked.some((hashes) => hashes.includes("late")),
      "gateways told to drop it too",
    );
  });

  it("drops a revoked key's entry by hash, and caches nothing for a zero lifetime", async () => {
    await credentials.put("k", alice, 600, await credentials.epoch());
    await credentials.forget(["k"]);
    assert.equal(await credentials.get("k"), null);
    await credentials.put("gone", alice, 0, await credentials.epoch());
    assert.equal(await cache.get("authn:gone"), null);
  });

  it("keeps a session's id, so that a token minted from the cached entry still ends with the session", async () => {
    const session: Identity = { ...alice, authType: "jwt", keyId: undefined, sessionId: "family-1" };
    await credentials.put("s", session, 900, await credentials.epoch());
    assert.equal((await credentials.get("s"))?.sessionId, "family-1");
  });

  it("ignores and counts a cached entry it did not seal, however well-formed", async () => {
    const admin: Identity = { userId: "x", role: "admin", permissions: ["admin:all"], authType: "api_key" };
    await cache.set("authn:planted", JSON.stringify(admin), 60);
    await cache.set("authn:odd", JSON.stringify({ userId: "x", role: "emperor", permissions: [] }), 60);
    await cache.set("authn:junk", "{not json", 60);
    await credentials.put("real", alice, 600, await credentials.epoch());
    await cache.set("authn:moved", (await cache.get("authn:real"))!, 60);
    for (const hash of ["planted", "odd", "junk", "moved"])
      assert.equal(await credentials.get(hash), null, hash);
    assert.equal(credentials.forgedEntries, 4);
    assert.deepEqual(await credentials.get("real"), alice);
  });
});
