import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { SignJWT } from "jose";
import { until } from "../../../test/support/wait.ts";
import { MemoryBus } from "../src/bus.ts";
import {
  type Identity,
  identityVerifier,
  SERVICE_TOKEN_ISSUER,
  SERVICE_TOKEN_TTL_SECONDS,
  signIdentity,
} from "../src/identity.ts";
import { createLogger, type Logger } from "../src/log.ts";
import {
  followRevocations,
  REVOCATION_LIFETIME_SECONDS,
  REVOCATION_MARGIN_SECONDS,
  type Revocation,
  RevocationList,
  revokes,
  signRevocation,
} from "../src/revocation.ts";
import { IDENTITY_REVOKED_SUBJECT } from "../src/subjects.ts";

const log = createLogger("test", "silent");
const auth = generateKeyPairSync("ec", { namedCurve: "P-256" });
const stranger = generateKeyPairSync("ec", { namedCurve: "P-256" });
const authKeys = () => auth.publicKey;

const alice: Identity = {
  userId: "alice",
  role: "user",
  permissions: ["kb:read", "chat:create"],
  authType: "api_key",
  keyId: "key-1",
};
const aliceSession: Identity = { ...alice, authType: "jwt", keyId: undefined, sessionId: "session-1" };
const AT = 1_800_000_000;

describe("revocations: which tokens a revocation ends", () => {
  const cases: [string, Omit<Revocation, "at">, Identity, boolean][] = [
    ["the user's key", { userId: "alice", keyId: "key-1" }, alice, true],
    ["another key", { userId: "alice", keyId: "key-2" }, alice, false],
    ["a session of the user, for a key", { userId: "alice", keyId: "key-1" }, aliceSession, false],
    ["the session", { userId: "alice", sessionId: "session-1" }, aliceSession, true],
    ["another session", { userId: "alice", sessionId: "session-2" }, aliceSession, false],
    ["every session of the user", { userId: "alice", authType: "jwt" }, aliceSession, true],
    ["a key of the user, for every session", { userId: "alice", authType: "jwt" }, alice, false],
    ["a token of the old role", { userId: "alice", role: "developer" }, alice, true],
    ["a token of the new role", { userId: "alice", role: "user" }, alice, false],
    ["all of a disabled user's", { userId: "alice" }, aliceSession, true],
    ["another user's", { userId: "bob" }, alice, false],
  ];
  for (const [what, revocation, identity, ended] of cases) {
    it(`${ended ? "ends" : "spares"} ${what}`, () => {
      assert.equal(revokes({ ...revocation, at: AT }, identity, AT - 60), ended);
    });
  }

  it("ends tokens issued up to its margin after it, none later", () => {
    const revocation = { userId: "alice", at: AT };
    assert.equal(revokes(revocation, alice, AT + REVOCATION_MARGIN_SECONDS), true);
    assert.equal(revokes(revocation, alice, AT + REVOCATION_MARGIN_SECONDS + 1), false);
  });
});

describe("revocations: the list", () => {
  it("forgets an entry once no token it ends can still be alive", () => {
    let now = AT * 1000;
    const list = new RevocationList({ now: () => now });
    list.add({ userId: "alice", keyId: "key-1", at: AT });
    assert.ok(list.find(alice, AT));
    assert.ok(REVOCATION_LIFETIME_SECONDS > SERVICE_TOKEN_TTL_SECONDS + REVOCATION_MARGIN_SECONDS);
    now += (REVOCATION_LIFETIME_SECONDS - 1) * 1000;
    assert.ok(list.find(alice, AT), "still there while a token it ended could be accepted");
    now += 1000;
    assert.equal(list.find(alice, AT), undefined);
    assert.equal(list.size, 0);
  });

  it("keeps at most its limit, dropping the oldest", () => {
    const list = new RevocationList({ limit: 2 });
    for (const keyId of ["key-1", "key-2", "key-3"]) list.add({ userId: "alice", keyId, at: AT });
    assert.equal(list.size, 2);
    assert.equal(list.find(alice, AT), undefined, "key-1's entry went first");
    assert.ok(list.find({ ...alice, keyId: "key-3" }, AT));
  });

  it("refuses a revoked token with a 401 saying why", () => {
    const list = new RevocationList();
    list.add({ userId: "alice", sessionId: "session-1", at: AT });
    assert.throws(
      () => list.check(aliceSession, AT),
      (error: { status?: number; message?: string; code?: string }) =>
        error.status === 401 &&
        /session has ended/.test(String(error.message)) &&
        error.code === "identity_revoked",
    );
    assert.doesNotThrow(() => list.check(alice, AT));
  });
});

describe("revocations: announcements on the bus and the verifier", () => {
  it("takes announcements signed by auth, refuses forged ones, and the verifier then refuses the token", async () => {
    const bus = new MemoryBus(log);
    const list = new RevocationList();
    let refused = 0;
    const counting = { warn: () => refused++ } as unknown as Logger;
    const unfollow = followRevocations(bus, list, authKeys, counting);
    try {
      const verify = identityVerifier(authKeys, list);
      const token = await signIdentity(aliceSession, auth.privateKey, "auth-1");
      assert.equal((await verify(token)).sessionId, "session-1", "the session travels in the token");

      const now = Math.floor(Date.now() / 1000);
      const forged = await signRevocation({ userId: "alice", at: now }, stranger.privateKey, "auth-1");
      const wrongAudience = await new SignJWT({})
        .setProtectedHeader({ alg: "ES256", kid: "auth-1" })
        .setIssuer(SERVICE_TOKEN_ISSUER)
        .setAudience("gaia-services")
        .setSubject("alice")
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(auth.privateKey);
      for (const announcement of [{ token: forged }, { token: wrongAudience }, { token: 42 }, null])
        await bus.publish(IDENTITY_REVOKED_SUBJECT, announcement);
      const genuine = await signRevocation(
        { userId: "alice", sessionId: "session-1", at: now },
        auth.privateKey,
        "auth-1",
      );
      await bus.publish(IDENTITY_REVOKED_SUBJECT, { token: genuine });
      await until(() => refused === 4 && list.size === 1);
      await assert.rejects(verify(token), { status: 401, message: /revoked: its session has ended/ });
      const other = await signIdentity(
        { ...aliceSession, sessionId: "session-2" },
        auth.privateKey,
        "auth-1",
      );
      assert.equal((await verify(other)).sessionId, "session-2");
    } finally {
      unfollow();
    }
  });
});
