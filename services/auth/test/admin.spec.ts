import assert from "node:assert/strict";
import { hashApiKey } from "../src/apikeys.ts";
import { issueKeyForEmail } from "../src/bootstrap.ts";
import {
  type AuthUnderTest,
  type AuthWithEvents,
  eventually,
  type Recorded,
  startAuthWithEvents,
  uniqueEmail,
} from "./harness.ts";

interface UserBody {
  id: string;
  email: string;
  role: string;
  disabled: boolean;
}

describe("auth admin and RBAC (PostgreSQL, Redis, NATS)", function () {
  this.timeout(60_000);
  let platform: AuthWithEvents;
  let auth: AuthUnderTest;
  let events: Recorded[];
  let adminKey: string;
  let adminId: string;

  before(async () => {
    platform = await startAuthWithEvents();
    ({ auth, events } = platform);
    const issued = await issueKeyForEmail(auth.runtime.db.prisma, uniqueEmail("admin"), "admin", "tests");
    adminKey = issued.key;
    adminId = issued.userId;
  });
  after(() => platform?.close());

  it("answers 403 to non-admins, and to an admin's key narrowed below admin:all", async () => {
    const { login } = await auth.signUp();
    for (const [method, path] of [
      ["GET", "/api/v1/auth/users"],
      ["PATCH", `/api/v1/auth/users/${login.user.id}`],
    ] as const) {
      const body = method === "PATCH" ? { role: "admin" } : undefined;
      const reply = await auth.call(method, path, { as: login.access_token, body });
      assert.equal(reply.status, 403, `${method} ${path}`);
      assert.ok(reply.body.detail);
    }
    const narrow = await auth.call<{ key: string }>("POST", "/api/v1/auth/keys", {
      as: adminKey,
      body: { name: "reader", permissions: ["kb:read"] },
    });
    assert.equal((await auth.call("GET", "/api/v1/auth/users", { as: narrow.body.key })).status, 403);
    assert.equal((await auth.call("GET", "/api/v1/auth/users")).status, 401);
  });

  it("lists users with paging and an email filter", async () => {
    const { email } = await auth.signUp(uniqueEmail("findme"));
    const all = await auth.call<{ users: UserBody[]; total: number }>("GET", "/api/v1/auth/users?limit=1", {
      as: adminKey,
    });
    assert.equal(all.status, 200);
    assert.equal(all.body.users.length, 1);
    assert.ok(all.body.total >= 2);
    const found = await auth.call<{ users: UserBody[] }>(
      "GET",
      `/api/v1/auth/users?email=${encodeURIComponent(email)}`,
      {
        as: adminKey,
      },
    );
    assert.deepEqual(
      found.body.users.map((u) => [u.email, u.role, u.disabled]),
      [[email, "user", false]],
    );
    const bad = await auth.call("GET", "/api/v1/auth/users?limit=0", { as: adminKey });
    assert.equal(bad.status, 422);
  });

  it("changes a role: cached identities follow at once; audited and published", async () => {
    const { login } = await auth.signUp();
    const key = await auth.call<{ key: string }>("POST", "/api/v1/auth/keys", {
      as: login.access_token,
      body: { name: "k" },
    });
    assert.equal((await auth.authenticate(key.body.key)).body.identity.role, "user");
    assert.equal((await auth.authenticate(login.access_token)).body.identity.role, "user");

    const changed = await auth.call<UserBody>("PATCH", `/api/v1/auth/users/${login.user.id}`, {
      as: adminKey,
      body: { role: "developer" },
    });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.role, "developer");
    assert.equal(await auth.runtime.cache.get(`authn:${hashApiKey(key.body.key)}`), null);
    const viaToken = (await auth.authenticate(login.access_token)).body.identity;
    assert.deepEqual([viaToken.role, viaToken.permissions.includes("kb:write")], ["developer", true]);
    // The key keeps the permissions it was made with: a promotion does not widen existing keys.
    assert.deepEqual((await auth.authenticate(key.body.key)).body.identity.permissions, [
      "kb:read",
      "chat:create",
      "asset:generate",
    ]);

    const row = await auth.runtime.db.prisma.auditLog.findFirstOrThrow({
      where: { action: "auth.user.role_changed", subjectId: login.user.id },
    });
    assert.equal(row.actorId, adminId);
    assert.deepEqual(row.details, { from: "user", to: "developer" });
    await eventually(() =>
      events.find(
        (e) => e.subject === "gaia.auth.user.role_changed" && e.payload.subject_id === login.user.id,
      ),
    );
  });

  it("disables a user: cached credentials are refused at once (403), and sessions end", async () => {
    const { email, password, login } = await auth.signUp();
    const key = await auth.call<{ key: string }>("POST", "/api/v1/auth/keys", {
      as: login.access_token,
      body: { name: "k" },
    });
    const hashes = [hashApiKey(key.body.key), hashApiKey(login.access_token)];
    assert.equal((await auth.authenticate(key.body.key)).status, 200);
    assert.equal((await auth.authenticate(login.access_token)).status, 200);
    for (const hash of hashes) assert.ok(await auth.runtime.cache.get(`authn:${hash}`), "warm cache");

    const disabled = await auth.call<UserBody>("PATCH", `/api/v1/auth/users/${login.user.id}`, {
      as: adminKey,
      body: { disabled: true },
    });
    assert.equal(disabled.body.disabled, true);
    for (const hash of hashes) assert.equal(await auth.runtime.cache.get(`authn:${hash}`), null);
    assert.equal((await auth.authenticate(key.body.key)).status, 403);
    assert.equal((await auth.authenticate(login.access_token)).status, 403);
    const event = await eventually(() =>
      events.find(
        (e) =>
          e.subject === "gaia.auth.credential.revoked" &&
          hashes.every((h) => (e.payload.hashes as string[]).includes(h)),
      ),
    );
    assert.ok(event);
    await eventually(() => events.find((e) => e.subject === "gaia.auth.user.disabled"));

    // Enabled again: the key works, but the refresh token of the old session stays dead.
    await auth.call("PATCH", `/api/v1/auth/users/${login.user.id}`, {
      as: adminKey,
      body: { disabled: false },
    });
    assert.equal((await auth.authenticate(key.body.key)).status, 200);
    const refresh = await auth.call("POST", "/api/v1/auth/refresh", {
      body: { refresh_token: login.refresh_token },
    });
    assert.equal(refresh.status, 401);
    const relogin = await auth.call("POST", "/api/v1/auth/login", { body: { email, password } });
    assert.equal(relogin.status, 200);
  });

  it("will not let an admin demote or disable themselves; answers 404 for unknown users", async () => {
    const self = await auth.call("PATCH", `/api/v1/auth/users/${adminId}`, {
      as: adminKey,
      body: { disabled: true },
    });
    assert.equal(self.status, 409);
    const missing = await auth.call("PATCH", `/api/v1/auth/users/${crypto.randomUUID()}`, {
      as: adminKey,
      body: { role: "guest" },
    });
    assert.equal(missing.status, 404);
    const empty = await auth.call("PATCH", `/api/v1/auth/users/${adminId}`, { as: adminKey, body: {} });
    assert.equal(empty.status, 422);
  });

  it("publishes login and key events on gaia.auth.* without secrets", async () => {
    const { login } = await auth.signUp();
    const key = await auth.call<{ key: string; id: string }>("POST", "/api/v1/auth/keys", {
      as: login.access_token,
      body: { name: "evented" },
    });
    await eventually(() =>
      events.find((e) => e.subject === "gaia.auth.login.succeeded" && e.payload.actor_id === login.user.id),
    );
    const created = await eventually(() =>
      events.find((e) => e.subject === "gaia.auth.key.created" && e.payload.subject_id === key.body.id),
    );
    const everything = JSON.stringify(events);
    assert.ok(!everything.includes(key.body.key));
    assert.ok(!everything.includes(login.access_token));
    assert.ok(!everything.includes(login.refresh_token));
    assert.equal(created.payload.actor_id, login.user.id);
  });
});
