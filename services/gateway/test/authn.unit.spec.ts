import assert from "node:assert/strict";
import {
  authnKey,
  authnSealKey,
  credentialHash,
  type Identity,
  MemoryCache,
  parseIdentity,
  RevocationList,
  sealIdentity,
} from "@gaia/kit";
import { Authenticator } from "../src/authn.ts";
import { identityKey } from "../src/identity.ts";
import type { AuthClient, ServiceToken } from "../src/providers/auth-client.ts";

const identity: Identity = {
  userId: "alice",
  role: "user",
  permissions: ["kb:read", "chat:create"],
  authType: "api_key",
  keyId: "key-1",
};
const sealKey = authnSealKey("gateway-unit-test-internal-token-0123456789");
const credential = { kind: "api_key" as const, value: `gaia_abcdefgh_${"x".repeat(40)}` };

/** A token as auth would hand it over: only its iat and exp are read by the gateway. */
function tokenIssuedAt(iat: number, n: number): ServiceToken {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return {
    token: `${part({ alg: "ES256" })}.${part({ iat, exp: iat + 300, n })}.sig`,
    expiresAt: (iat + 300) * 1000,
  };
}

describe("gateway authentication: service tokens auth revoked", () => {
  const now = 1_800_000_000;
  let minted: number;
  let revocations: RevocationList;
  let cache: MemoryCache;
  let authenticator: Authenticator;

  beforeEach(() => {
    minted = 0;
    revocations = new RevocationList({ now: () => now * 1000 });
    cache = new MemoryCache();
    const client = {
      authenticate: async () => ({ identity, token: tokenIssuedAt(now, ++minted) }),
      serviceToken: async () => tokenIssuedAt(now, ++minted),
    } as unknown as AuthClient;
    authenticator = new Authenticator({
      cache,
      client,
      sealKey: async () => sealKey,
      localTtlMs: 60_000,
      revocations,
      now: () => now * 1000,
    });
  });

  it("stops handing out a remembered token once a revocation ends it", async () => {
    const first = await authenticator.authenticate(credential, "r1");
    assert.equal(authenticator.cached(credential)?.token, first.token);
    revocations.add({ userId: "alice", role: "developer", at: now });
    assert.equal(authenticator.cached(credential), undefined);
    const second = await authenticator.authenticate(credential, "r2");
    assert.notEqual(second.token, first.token);
    assert.equal(minted, 2);
  });

  it("mints anew for an identity from the shared cache rather than reuse a revoked token", async () => {
    const hash = credentialHash(credential.value);
    await cache.set(authnKey(hash), sealIdentity(sealKey, hash, identity, now + 600), 600);
    const first = await authenticator.authenticate(credential, "r1");
    authenticator.revoke([credentialHash(credential.value)]);
    revocations.add({ userId: "alice", at: now });
    const second = await authenticator.authenticate(credential, "r2");
    assert.notEqual(second.token, first.token);
    assert.equal(minted, 2);
  });

  it("keeps using a token no revocation names", async () => {
    revocations.add({ userId: "alice", keyId: "key-2", at: now });
    revocations.add({ userId: "bob", at: now });
    await authenticator.authenticate(credential, "r1");
    assert.ok(authenticator.cached(credential));
    assert.equal(minted, 1);
  });
});

describe("gateway identities: sessions", () => {
  it("keeps the session an identity belongs to, and never shares a token between two sessions", () => {
    const session = { ...identity, authType: "jwt" as const, keyId: undefined, sessionId: "family-1" };
    const parsed = parseIdentity(JSON.parse(JSON.stringify(session)));
    assert.equal(parsed?.sessionId, "family-1");
    assert.notEqual(identityKey(parsed!), identityKey({ ...parsed!, sessionId: "family-2" }));
  });
});
