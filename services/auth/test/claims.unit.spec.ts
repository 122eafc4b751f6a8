import assert from "node:assert/strict";
import type { HttpError, Identity } from "@gaia/kit";
import { generateApiKey, hashApiKey, looksLikeApiKey, sameDigest } from "../src/apikeys.ts";
import { cacheSeconds } from "../src/credentials.ts";
import { grantablePermissions } from "../src/keys.ts";
import { boundedIdentity } from "../src/routes/internal.ts";
import { mapSupabaseClaims, mapSupabaseRole } from "../src/supabase.ts";

const user: Identity = {
  userId: "u1",
  role: "user",
  permissions: ["kb:read", "chat:create", "asset:generate"],
  authType: "jwt",
};

describe("auth claims and policy (unit)", () => {
  describe("Supabase role mapping", () => {
    it("prefers app_metadata.role, then user_role, then role", () => {
      assert.equal(
        mapSupabaseRole({ app_metadata: { role: "developer" }, role: "authenticated" }),
        "developer",
      );
      assert.equal(mapSupabaseRole({ user_role: "admin", role: "authenticated" }), "admin");
      assert.equal(mapSupabaseRole({ role: "guest" }), "guest");
    });

    it("maps Supabase's authenticated to user, and anything unknown to user", () => {
      assert.equal(mapSupabaseRole({ role: "authenticated" }), "user");
      assert.equal(mapSupabaseRole({ app_metadata: { role: "superhero" }, role: "authenticated" }), "user");
      assert.equal(mapSupabaseRole({}), "user");
    });

    it("maps sub, a normalized email and exp; refuses a token without sub", () => {
      assert.deepEqual(
        mapSupabaseClaims({ sub: "ext-1", email: " Ann@Example.COM ", exp: 2000, role: "authenticated" }),
        { externalId: "ext-1", email: "ann@example.com", role: "user", expiresAt: 2000 },
      );
      assert.equal(mapSupabaseClaims({ sub: "ext-2", exp: 1, phone: "+1" }).email, undefined);
      assert.throws(
        () => mapSupabaseClaims({ exp: 2000, role: "service_role" }),
        (e: HttpError) => e.status === 401,
      );
    });
  });

  describe("credential cache lifetimes", () => {
    it("caps keys at 10 minutes and JWTs at 15, never past the credential's expiry", () => {
      assert.equal(cacheSeconds("api_key", 1000), 600);
      assert.equal(cacheSeconds("api_key", 1000, 1300), 300);
      assert.equal(cacheSeconds("jwt", 1000, 1000 + 3600), 900);
      assert.equal(cacheSeconds("jwt", 1000, 1000 + 120), 120);
      assert.equal(cacheSeconds("supabase", 1000, 999), 0);
    });
  });

  describe("key permissions", () => {
    it("gives a new key the caller's permissions, or fewer, never more", () => {
      assert.deepEqual(grantablePermissions(user), user.permissions);
      assert.deepEqual(grantablePermissions(user, ["kb:read", "kb:read"]), ["kb:read"]);
      assert.throws(
        () => grantablePermissions(user, ["kb:read", "kb:write"]),
        (e: HttpError) => {
          assert.equal(e.status, 403);
          assert.match(e.detail, /kb:write/);
          return true;
        },
      );
      const narrowed: Identity = { ...user, permissions: ["kb:read"], authType: "api_key", keyId: "k" };
      assert.throws(
        () => grantablePermissions(narrowed, ["chat:create"]),
        (e: HttpError) => e.status === 403,
      );
    });

    it("never mints a service identity beyond the role", () => {
      const bounded = boundedIdentity({
        ...user,
        role: "guest",
        permissions: ["kb:read", "admin:all", "kb:write"],
      });
      assert.deepEqual(bounded.permissions, ["kb:read"]);
    });
  });

  describe("API key format", () => {
    it("makes gaia_<prefix>_<secret> keys, stored as SHA-256 of the whole key", () => {
      const { key, prefix, hash } = generateApiKey();
      assert.ok(looksLikeApiKey(key));
      assert.ok(key.startsWith(`gaia_${prefix}_`));
      assert.equal(hash, hashApiKey(key));
      assert.ok(sameDigest(hash, hashApiKey(key)));
      assert.ok(!sameDigest(hash, hashApiKey(`${key}x`)));
      assert.ok(!looksLikeApiKey("gaia_short_x"));
    });
  });
});
