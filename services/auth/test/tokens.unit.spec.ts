import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { type HttpError, signIdentity } from "@gaia/kit";
import { exportSPKI, SignJWT, UnsecuredJWT } from "jose";
import { type SigningKeys, signingKeys } from "../src/signing.ts";
import {
  localIdentityVerifier,
  signAccessToken,
  unverifiedIssuer,
  verifyAccessToken,
} from "../src/tokens.ts";

const pem = () =>
  generateKeyPairSync("ec", { namedCurve: "P-256" })
    .privateKey.export({ type: "pkcs8", format: "pem" })
    .toString();

const subject = {
  userId: "3f1c0a4e-0000-4000-8000-000000000001",
  email: "a@example.com",
  role: "user",
  sessionId: "s1",
} as const;

async function rejectsWith(promise: Promise<unknown>, status: number, detail?: RegExp) {
  await assert.rejects(promise, (error: HttpError) => {
    assert.equal(error.status, status);
    if (detail) assert.match(error.detail, detail);
    return true;
  });
}

describe("auth tokens (unit)", () => {
  let keys: SigningKeys;
  before(async () => {
    keys = await signingKeys({}, pem());
  });

  it("signs access tokens that verify, with iss, aud, typ and the session id", async () => {
    const { token, expiresAt } = await signAccessToken(keys, subject, 900);
    const claims = await verifyAccessToken(keys, token);
    assert.deepEqual(claims, { ...subject, expiresAt });
    assert.equal(unverifiedIssuer(token), "gaia-auth");
  });

  it("rejects an expired access token as expired", async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    const { token } = await signAccessToken(keys, subject, 60, past);
    await rejectsWith(verifyAccessToken(keys, token), 401, /expired/);
  });

  it("rejects alg none", async () => {
    const token = new UnsecuredJWT({ sub: subject.userId, role: "admin", typ: "access", sid: "s" })
      .setIssuer("gaia-auth")
      .setAudience("gaia-api")
      .setIssuedAt()
      .setExpirationTime("10m")
      .encode();
    await rejectsWith(verifyAccessToken(keys, token), 401, /Invalid token/);
  });

  it("rejects HS256 signed with the ES256 public key as the secret (algorithm confusion)", async () => {
    const publicPem = await exportSPKI(createPublicKey(keys.privateKey));
    const token = await new SignJWT({ role: "admin", typ: "access", sid: "s" })
      .setProtectedHeader({ alg: "HS256", kid: keys.kid, typ: "at+jwt" })
      .setSubject(subject.userId)
      .setIssuer("gaia-auth")
      .setAudience("gaia-api")
      .setIssuedAt()
      .setExpirationTime("10m")
      .sign(new TextEncoder().encode(publicPem));
    await rejectsWith(verifyAccessToken(keys, token), 401);
    assert.throws(() => keys.resolve({ alg: "HS256", kid: keys.kid }), /not accepted/);
  });

  it("rejects an unknown kid, and a token without a kid, even when signed by a real ES256 key", async () => {
    const other = await signingKeys({ keyId: "someone-else" }, pem());
    const foreign = await signAccessToken(other, subject, 900);
    await rejectsWith(verifyAccessToken(keys, foreign.token), 401);
    const noKid = await new SignJWT({ role: "user", typ: "access", sid: "s" })
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt" })
      .setSubject(subject.userId)
      .setIssuer("gaia-auth")
      .setAudience("gaia-api")
      .setIssuedAt()
      .setExpirationTime("10m")
      .sign(keys.privateKey);
    await rejectsWith(verifyAccessToken(keys, noKid), 401);
  });

  it("keeps access tokens and service identities apart", async () => {
    const identity = {
      userId: subject.userId,
      role: "user",
      permissions: ["kb:read"],
      authType: "jwt",
    } as const;
    const service = await signIdentity(
      { ...identity, permissions: [...identity.permissions] },
      keys.privateKey,
      keys.kid,
    );
    await rejectsWith(verifyAccessToken(keys, service), 401);
    const verifyIdentity = localIdentityVerifier(keys);
    assert.equal((await verifyIdentity(service)).userId, subject.userId);
    const { token: access } = await signAccessToken(keys, subject, 900);
    await rejectsWith(verifyIdentity(access), 401);
  });

  it("accepts tokens of the previous key after a rotation, and publishes both keys", async () => {
    const oldKeys = await signingKeys({ keyId: "2025" }, pem());
    const { token } = await signAccessToken(oldKeys, subject, 900);
    const rotated = await signingKeys(
      {
        keyId: "2026",
        previousKeyId: "2025",
        previousPublicKeyPem: await exportSPKI(createPublicKey(oldKeys.privateKey)),
      },
      pem(),
    );
    assert.equal((await verifyAccessToken(rotated, token)).userId, subject.userId);
    const jwks = rotated.jwks();
    assert.deepEqual(
      jwks.keys.map((k) => [k.kid, k.alg, k.kty, k.crv]),
      [
        ["2026", "ES256", "EC", "P-256"],
        ["2025", "ES256", "EC", "P-256"],
      ],
    );
    assert.ok(
      jwks.keys.every((k) => k.d === undefined),
      "no private part in the JWKS",
    );
  });

  it("stops start-up on a key that does not parse, naming the variable and hiding the value", async () => {
    await assert.rejects(signingKeys({}, "-----BEGIN PRIVATE KEY-----\nnot a key\n"), (error: Error) => {
      assert.equal(error.name, "ConfigError");
      assert.match(error.message, /^GAIA_JWT_PRIVATE_KEY: /);
      assert.ok(!error.message.includes("not a key"));
      return true;
    });
  });

  it("refuses a key that is not P-256", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    });
    await assert.rejects(signingKeys({}, rsa.toString()), /P-256/);
  });
});
