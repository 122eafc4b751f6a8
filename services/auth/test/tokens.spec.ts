import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { remoteIdentityVerifier, signIdentity } from "@gaia/kit";
import { exportJWK, exportSPKI, SignJWT, UnsecuredJWT } from "jose";
import { type StoppableServer, startRedis } from "../../../test/support/servers.ts";
import { loadInternalToken, loadSigningKeys, signingKeys } from "../src/signing.ts";
import { signAccessToken } from "../src/tokens.ts";
import { type AuthUnderTest, internalHeaders, startAuthUnderTest, uniqueEmail } from "./harness.ts";

const SUPABASE_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";
const SUPABASE_ISSUER = "https://project.supabase.co/auth/v1";
const pem = () =>
  generateKeyPairSync("ec", { namedCurve: "P-256" })
    .privateKey.export({ type: "pkcs8", format: "pem" })
    .toString();

function supabaseToken(claims: Record<string, unknown>, secret = SUPABASE_SECRET, expiresIn = "1h") {
  return new SignJWT({ aud: "authenticated", role: "authenticated", ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(SUPABASE_ISSUER)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}

describe("auth tokens: algorithms, keys, Supabase (PostgreSQL, Redis)", function () {
  this.timeout(60_000);
  const privateKeyPem = pem();
  let redis: StoppableServer;
  let auth: AuthUnderTest;
  let jwksServer: Server;
  const supabaseEs = generateKeyPairSync("ec", { namedCurve: "P-256" });

  before(async () => {
    jwksServer = createServer(async (_req, res) => {
      const jwk = await exportJWK(supabaseEs.publicKey);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys: [{ ...jwk, kid: "sb-1", alg: "ES256", use: "sig" }] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
    redis = await startRedis();
    auth = await startAuthUnderTest({
      redis,
      env: {
        GAIA_JWT_PRIVATE_KEY: privateKeyPem.replace(/\n/g, "\\n"),
        GAIA_JWT_KEY_ID: "gaia-test-1",
        SUPABASE_JWT_SECRET: SUPABASE_SECRET,
        SUPABASE_JWKS_URL: `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`,
        SUPABASE_JWT_ISSUER: SUPABASE_ISSUER,
      },
    });
  });
  after(async () => {
    await auth?.close();
    await redis?.stop();
    await new Promise((resolve) => jwksServer?.close(resolve));
  });

  it("publishes the configured key in the JWKS, and every service can verify its identity tokens", async () => {
    const jwks = await auth.call<{ keys: { kid: string; alg: string; d?: string }[] }>(
      "GET",
      "/.well-known/jwks.json",
    );
    assert.equal(jwks.status, 200);
    assert.deepEqual(
      jwks.body.keys.map((k) => [k.kid, k.alg, k.d]),
      [["gaia-test-1", "ES256", undefined]],
    );
    const { login } = await auth.signUp();
    const { body } = await auth.authenticate(login.access_token);
    const verify = remoteIdentityVerifier(`${auth.url}/.well-known/jwks.json`);
    const identity = await verify(body.token);
    assert.deepEqual(identity, { ...body.identity, keyId: undefined });
  });

  it("rejects an expired access token", async () => {
    const keys = await signingKeys({ keyId: "gaia-test-1" }, privateKeyPem);
    const { login } = await auth.signUp();
    const { token } = await signAccessToken(
      keys,
      { userId: login.user.id, email: login.user.email, role: "user", sessionId: crypto.randomUUID() },
      60,
      Math.floor(Date.now() / 1000) - 600,
    );
    const reply = await auth.authenticate(token);
    assert.equal(reply.status, 401);
    assert.equal((reply.body as { code?: string }).code, "token_expired");
  });

  it("rejects alg none, HS256 keyed with the public key, and an unknown kid", async () => {
    const { login } = await auth.signUp();
    const claims = { role: "admin", typ: "access", sid: crypto.randomUUID(), email: login.user.email };
    const none = new UnsecuredJWT(claims)
      .setSubject(login.user.id)
      .setIssuer("gaia-auth")
      .setAudience("gaia-api")
      .setIssuedAt()
      .setExpirationTime("10m")
      .encode();
    const publicPem = await exportSPKI((await signingKeys({}, privateKeyPem)).verification[0]!.publicKey);
    const confused = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", kid: "gaia-test-1", typ: "at+jwt" })
      .setSubject(login.user.id)
      .setIssuer("gaia-auth")
      .setAudience("gaia-api")
      .setIssuedAt()
      .setExpirationTime("10m")
      .sign(new TextEncoder().encode(publicPem));
    const stranger = await signingKeys({ keyId: "not-ours" }, pem());
    const { token: unknownKid } = await signAccessToken(
      stranger,
      { userId: login.user.id, email: login.user.email, role: "admin", sessionId: crypto.randomUUID() },
      600,
    );
    for (const token of [none, confused, unknownKid, "garbage", `${login.access_token}x`]) {
      const reply = await auth.authenticate(token);
      assert.equal(reply.status, 401, token);
      assert.ok((reply.body as { detail?: string }).detail);
    }
  });

  it("never accepts an access token as a service identity, nor a service token as a credential", async () => {
    const { login } = await auth.signUp();
    const asIdentity = await auth.call("GET", "/api/v1/auth/me", {
      headers: { "x-gaia-identity": login.access_token },
    });
    assert.equal(asIdentity.status, 401);
    const serviceToken = (await auth.authenticate(login.access_token)).body.token;
    assert.equal((await auth.authenticate(serviceToken)).status, 401);
  });

  it("accepts a Supabase HS256 token, creating the user on first sight with the mapped role", async () => {
    const externalId = crypto.randomUUID();
    const email = uniqueEmail("supa");
    const token = await supabaseToken({
      sub: externalId,
      email,
      app_metadata: { provider: "email", role: "developer" },
    });
    const first = await auth.authenticate(token);
    assert.equal(first.status, 200);
    assert.equal(first.body.identity.authType, "supabase");
    assert.equal(first.body.identity.role, "developer");
    assert.equal(first.body.identity.email, email);
    const user = await auth.runtime.db.prisma.user.findUniqueOrThrow({ where: { externalId } });
    assert.equal(user.id, first.body.identity.userId);
    assert.equal(user.passwordHash, null);

    // Seen again with a new token: the same user, no second account.
    const second = await auth.authenticate(
      await supabaseToken({ sub: externalId, email, role: "authenticated" }),
    );
    assert.equal(second.body.identity.userId, user.id);
    assert.equal(await auth.runtime.db.prisma.user.count({ where: { externalId } }), 1);
    const created = await auth.runtime.db.prisma.auditLog.count({
      where: { action: "auth.user.created_external", subjectId: user.id },
    });
    assert.equal(created, 1);

    // Identity-requiring routes work for the Supabase user too.
    const me = await auth.call("GET", "/api/v1/auth/me", { as: token });
    assert.equal(me.body.auth_type, "supabase");
    // A password login to that account is refused (it has none), like any wrong password.
    const login = await auth.call("POST", "/api/v1/auth/login", {
      body: { email, password: "anything at all" },
    });
    assert.equal(login.status, 401);
  });

  it("maps Supabase's authenticated role to user", async () => {
    const token = await supabaseToken({ sub: crypto.randomUUID(), email: uniqueEmail("supa") });
    assert.equal((await auth.authenticate(token)).body.identity.role, "user");
  });

  it("accepts a Supabase token signed by a key from the project's JWKS", async () => {
    const token = await new SignJWT({
      aud: "authenticated",
      role: "authenticated",
      email: uniqueEmail("jwks"),
    })
      .setProtectedHeader({ alg: "ES256", kid: "sb-1", typ: "JWT" })
      .setSubject(crypto.randomUUID())
      .setIssuer(SUPABASE_ISSUER)
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(supabaseEs.privateKey);
    const reply = await auth.authenticate(token);
    assert.equal(reply.status, 200);
    assert.equal(reply.body.identity.authType, "supabase");
  });

  it("rejects Supabase tokens with a wrong secret, wrong audience, wrong issuer, or expired", async () => {
    const sub = crypto.randomUUID();
    const tokens = [
      await supabaseToken({ sub, email: uniqueEmail() }, "another-secret-that-is-long-enough-to-sign-with"),
      await supabaseToken({ sub, email: uniqueEmail(), aud: "anon" }),
      await new SignJWT({ aud: "authenticated", sub })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuer("https://elsewhere.example/auth/v1")
        .setIssuedAt()
        .setExpirationTime("1h")
        .sign(new TextEncoder().encode(SUPABASE_SECRET)),
      await supabaseToken({ sub, email: uniqueEmail() }, SUPABASE_SECRET, "-1m"),
    ];
    for (const token of tokens) assert.equal((await auth.authenticate(token)).status, 401);
    assert.equal(await auth.runtime.db.prisma.user.count({ where: { externalId: sub } }), 0);
  });

  it("does not hand a local account to a Supabase token with the same email", async () => {
    const { email, login } = await auth.signUp();
    const token = await supabaseToken({ sub: crypto.randomUUID(), email, app_metadata: { role: "admin" } });
    const reply = await auth.authenticate(token);
    assert.equal(reply.status, 401);
    const user = await auth.runtime.db.prisma.user.findUniqueOrThrow({ where: { id: login.user.id } });
    assert.equal(user.externalId, null);
    assert.equal(user.role, "user");
  });

  it("mints service tokens only for holders of the internal token, within the role's permissions", async () => {
    const identity = {
      userId: crypto.randomUUID(),
      role: "guest",
      permissions: ["kb:read", "admin:all"],
      authType: "api_key",
    };
    const refused = await auth.call("POST", "/internal/service-token", { body: { identity } });
    assert.equal(refused.status, 401);
    const wrong = await auth.call("POST", "/internal/service-token", {
      body: { identity },
      headers: { "x-gaia-internal-token": "guess" },
    });
    assert.equal(wrong.status, 401);
    const minted = await auth.call<{ token: string; expires_at: number }>("POST", "/internal/service-token", {
      body: { identity },
      headers: internalHeaders,
    });
    assert.equal(minted.status, 200);
    const now = Date.now() / 1000;
    assert.ok(minted.body.expires_at > now + 290 && minted.body.expires_at <= now + 301);
    const verified = await remoteIdentityVerifier(`${auth.url}/.well-known/jwks.json`)(minted.body.token);
    assert.deepEqual(verified.permissions, ["kb:read"]);
    const forged = await signIdentity(
      { userId: identity.userId, role: "admin", permissions: ["admin:all"], authType: "service" },
      (await signingKeys({}, pem())).privateKey,
      "gaia-test-1",
    );
    const withForged = await auth.call("GET", "/api/v1/auth/users", {
      headers: { "x-gaia-identity": forged },
    });
    assert.equal(withForged.status, 401);
  });

  it("authenticates credentials only for holders of the internal token, on every /internal path", async () => {
    const { login } = await auth.signUp();
    const body = { bearer: login.access_token };
    for (const headers of [{}, { "x-gaia-internal-token": "guess" }] as Record<string, string>[]) {
      const refused = await auth.call<{ detail: string; token?: string }>("POST", "/internal/authenticate", {
        body,
        headers,
      });
      assert.equal(refused.status, 401);
      assert.equal(refused.body.detail, "This endpoint is for platform services");
      assert.equal(refused.body.token, undefined);
    }
    const unknown = await auth.call("POST", "/internal/anything-else", { body });
    assert.equal(unknown.status, 401, "the internal token guards paths that do not exist yet too");
    const allowed = await auth.call("POST", "/internal/authenticate", { body, headers: internalHeaders });
    assert.equal(allowed.status, 200);
  });
});

describe("auth signing key in development", function () {
  this.timeout(60_000);
  it("generates a key and an internal token once under <data dir>/keys (mode 0600), and reuses them", async () => {
    const first = await startAuthUnderTest({ env: { GAIA_INTERNAL_TOKEN: "" } });
    try {
      const keysDir = join(first.settings.dataDir, "keys");
      assert.equal((await stat(join(keysDir, "jwt-es256.pem"))).mode & 0o777, 0o600);
      assert.equal((await stat(join(keysDir, "internal-token"))).mode & 0o777, 0o600);
      const jwks = await first.call<{ keys: { kid: string }[] }>("GET", "/.well-known/jwks.json");
      // What a restart does: load again from the same directory.
      const reloaded = await loadSigningKeys({}, first.settings.dataDir);
      assert.equal(reloaded.kid, jwks.body.keys[0]!.kid);
      const token = await loadInternalToken(undefined, first.settings.dataDir);
      const minted = await first.call("POST", "/internal/service-token", {
        body: { identity: { userId: "u", role: "user", permissions: [], authType: "service" } },
        headers: { "x-gaia-internal-token": token },
      });
      assert.equal(minted.status, 200);
    } finally {
      await first.close();
    }
  });
});
