import assert from "node:assert/strict";
import { createLogger, type HttpError, RedisCache } from "@gaia/kit";
import { type StoppableServer, startNats, startRedis } from "../../../test/support/servers.ts";
import { sleep, until } from "../../../test/support/wait.ts";
import { LoginLimiter } from "../src/ratelimit.ts";
import { type AuthUnderTest, type LoginBody, startAuthUnderTest, uniqueEmail } from "./harness.ts";

describe("auth sessions (PostgreSQL, Redis, NATS)", function () {
  this.timeout(60_000);
  let redis: StoppableServer;
  let nats: StoppableServer;
  let auth: AuthUnderTest;

  before(async () => {
    [redis, nats] = await Promise.all([startRedis(), startNats()]);
    auth = await startAuthUnderTest({
      redis,
      nats,
      env: { GAIA_LOGIN_FREE_FAILURES: "3", GAIA_LOGIN_FREE_FAILURES_PER_IP: "1000" },
    });
  });
  after(async () => {
    await auth?.close();
    await Promise.all([redis?.stop(), nats?.stop()]);
  });

  it("registers, logs in, answers me, refreshes and logs out", async () => {
    const email = uniqueEmail();
    const registered = await auth.call("POST", "/api/v1/auth/register", {
      body: { email: email.toUpperCase(), password: "correct horse battery" },
    });
    assert.equal(registered.status, 201);
    assert.equal(registered.body.email, email);
    assert.equal(registered.body.role, "user");
    assert.ok(registered.body.id);

    const login = await auth.call<LoginBody>("POST", "/api/v1/auth/login", {
      body: { email, password: "correct horse battery" },
    });
    assert.equal(login.status, 200);
    assert.equal(login.headers.get("cache-control"), "no-store");
    assert.equal(login.body.token_type, "bearer");
    assert.equal(login.body.expires_in, 900);
    assert.deepEqual(login.body.user, { id: registered.body.id, email, role: "user" });

    const me = await auth.call("GET", "/api/v1/auth/me", { as: login.body.access_token });
    assert.equal(me.status, 200);
    assert.equal(me.body.email, email);
    assert.equal(me.body.auth_type, "jwt");
    assert.deepEqual(me.body.permissions, ["kb:read", "chat:create", "asset:generate"]);

    const validate = await auth.call("POST", "/api/v1/auth/validate", { as: login.body.access_token });
    assert.deepEqual(
      [validate.body.valid, validate.body.user_id, validate.body.role, validate.body.auth_type],
      [true, registered.body.id, "user", "jwt"],
    );

    const refreshed = await auth.call<LoginBody>("POST", "/api/v1/auth/refresh", {
      body: { refresh_token: login.body.refresh_token },
    });
    assert.equal(refreshed.status, 200);
    assert.notEqual(refreshed.body.refresh_token, login.body.refresh_token);
    assert.notEqual(refreshed.body.access_token, login.body.access_token);
    assert.equal((await auth.authenticate(refreshed.body.access_token)).status, 200);

    const logout = await auth.call("POST", "/api/v1/auth/logout", {
      as: refreshed.body.access_token,
      body: { refresh_token: refreshed.body.refresh_token },
    });
    assert.equal(logout.status, 204);
    // The session's refresh token is dead, and so is its access token — although its identity was cached.
    const again = await auth.call("POST", "/api/v1/auth/refresh", {
      body: { refresh_token: refreshed.body.refresh_token },
    });
    assert.equal(again.status, 401);
    const after = await auth.authenticate(refreshed.body.access_token);
    assert.equal(after.status, 401);
    assert.match(String((after.body as { detail?: string }).detail), /session has ended/);
  });

  it("revokes the whole family when a rotated refresh token comes back", async () => {
    const { login } = await auth.signUp();
    const first = login.refresh_token;
    const second = await auth.call<LoginBody>("POST", "/api/v1/auth/refresh", {
      body: { refresh_token: first },
    });
    assert.equal(second.status, 200);
    const third = await auth.call<LoginBody>("POST", "/api/v1/auth/refresh", {
      body: { refresh_token: second.body.refresh_token },
    });
    assert.equal(third.status, 200);
    assert.equal((await auth.authenticate(third.body.access_token)).status, 200);

    // An attacker replays the first (already rotated) token.
    const replay = await auth.call("POST", "/api/v1/auth/refresh", { body: { refresh_token: first } });
    assert.equal(replay.status, 401);
    assert.equal(replay.body.code, "refresh_reused");
    // The legitimate holder's newest token and its access token are dead too.
    const victim = await auth.call("POST", "/api/v1/auth/refresh", {
      body: { refresh_token: third.body.refresh_token },
    });
    assert.equal(victim.status, 401);
    assert.equal((await auth.authenticate(third.body.access_token)).status, 401);

    const rows = await auth.runtime.db.prisma.auditLog.findMany({
      where: { action: "auth.refresh.reused", actorId: login.user.id },
    });
    assert.equal(rows.length, 1);
  });

  it("keeps two logins of one user apart: logging out one leaves the other", async () => {
    const { email, password, login: a } = await auth.signUp();
    const b = await auth.call<LoginBody>("POST", "/api/v1/auth/login", { body: { email, password } });
    assert.equal(b.status, 200);
    await auth.call("POST", "/api/v1/auth/logout", {
      as: a.access_token,
      body: { refresh_token: a.refresh_token },
    });
    assert.equal((await auth.authenticate(a.access_token)).status, 401);
    assert.equal((await auth.authenticate(b.body.access_token)).status, 200);
    // Without a refresh token, logout ends every session.
    await auth.call("POST", "/api/v1/auth/logout", { as: b.body.access_token });
    assert.equal((await auth.authenticate(b.body.access_token)).status, 401);
  });

  it("never lets a guesser at one address lock the owner out from another", async () => {
    const { email, password } = await auth.signUp();
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const guess = await auth.call("POST", "/api/v1/auth/login", {
        body: { email, password: `guess ${i}` },
        from: "127.0.0.2",
      });
      statuses.push(guess.status);
    }
    assert.ok(
      statuses.every((status) => status === 401 || status === 429),
      String(statuses),
    );
    assert.ok(statuses.includes(429), `the guesser is slowed down: ${statuses}`);
    const owner = await auth.call<LoginBody>("POST", "/api/v1/auth/login", {
      body: { email, password },
      from: "127.0.0.3",
    });
    assert.equal(owner.status, 200, JSON.stringify(owner.body));
    assert.ok(owner.body.access_token);
  });

  it("makes one address wait longer after each further wrong password, and starts over once it is right", async () => {
    const { email, password } = await auth.signUp();
    const from = "127.0.0.4";
    const login = (pass: string) =>
      auth.call("POST", "/api/v1/auth/login", { body: { email, password: pass }, from });
    // Three free failures (GAIA_LOGIN_FREE_FAILURES), then a fourth that costs a wait of one second.
    for (let i = 0; i < 4; i++) assert.equal((await login("wrong password")).status, 401);
    const first = await login(password);
    assert.equal(first.status, 429, "inside the wait even the right password is not checked");
    assert.equal(first.headers.get("retry-after"), "1");
    assert.match(String(first.body.detail), /try again in 1 second\b/);
    await sleep(1000);
    assert.equal((await login("wrong password")).status, 401);
    const second = await login("wrong password");
    assert.equal(second.status, 429);
    assert.equal(second.headers.get("retry-after"), "2", "the wait doubled");
    assert.match(String(second.body.detail), /try again in 2 seconds/);
    await sleep(2000);
    assert.equal((await login(password)).status, 200, "after the wait the right password works");
    // The success cleared this address's count for the email: three free failures again, then one second.
    for (let i = 0; i < 4; i++) assert.equal((await login("wrong password")).status, 401);
    const again = await login("wrong password");
    assert.equal(again.status, 429);
    assert.equal(again.headers.get("retry-after"), "1");
  });

  it("lets one attempt of a burst through past the free failures, across replicas sharing Redis", async () => {
    const replicas = [0, 1].map(() => new RedisCache(redis.url, createLogger("test", "silent"), "replicas:"));
    try {
      await until(() => replicas.every((cache) => cache.healthy()));
      const limiters = replicas.map((cache) => new LoginLimiter(cache, auth.settings.login));
      const email = uniqueEmail("burst");
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => limiters[i % 2]!.attempt(email, "10.9.8.7")),
      );
      const through = outcomes.filter((o) => o.status === "fulfilled");
      assert.equal(through.length, auth.settings.login.freeFailures + 1);
      for (const attempt of through) await attempt.value.failed();
      await assert.rejects(limiters[0]!.attempt(email, "10.9.8.7"), (e: HttpError) => e.status === 429);
      await assert.rejects(limiters[1]!.attempt(email, "10.9.8.7"), (e: HttpError) => e.status === 429);
    } finally {
      await Promise.all(replicas.map((cache) => cache.close()));
    }
  });

  it("answers unknown emails and wrong passwords alike, and audits both", async () => {
    const { email, login } = await auth.signUp();
    const unknownEmail = uniqueEmail("nobody");
    const unknown = await auth.call("POST", "/api/v1/auth/login", {
      body: { email: unknownEmail, password: "x" },
    });
    const wrong = await auth.call("POST", "/api/v1/auth/login", { body: { email, password: "not it" } });
    assert.equal(unknown.status, 401);
    assert.deepEqual(unknown.body, wrong.body);
    const failures = await auth.runtime.db.prisma.auditLog.findMany({
      where: { action: "auth.login.failed" },
    });
    const reasons = failures.map((row) => row.details as { email: string; reason: string });
    assert.ok(reasons.some((d) => d.email === unknownEmail && d.reason === "unknown_email"));
    assert.ok(reasons.some((d) => d.email === email && d.reason === "wrong_password"));
    for (const row of failures)
      assert.ok(!JSON.stringify(row.details).includes("not it"), "no password in the log");
    const success = await auth.runtime.db.prisma.auditLog.findFirst({
      where: { action: "auth.login.succeeded", actorId: login.user.id },
    });
    assert.ok(success);
  });

  it("rejects bad input with 422 naming the field, a taken email with 409, and needs an identity for me", async () => {
    const short = await auth.call("POST", "/api/v1/auth/register", {
      body: { email: uniqueEmail(), password: "short" },
    });
    assert.equal(short.status, 422);
    assert.match(String(short.body.detail), /password/);
    const badEmail = await auth.call("POST", "/api/v1/auth/login", {
      body: { email: "not-an-email", password: "x" },
    });
    assert.equal(badEmail.status, 422);
    assert.match(String(badEmail.body.detail), /email/);
    const { email } = await auth.signUp();
    const taken = await auth.call("POST", "/api/v1/auth/register", {
      body: { email, password: "another password" },
    });
    assert.equal(taken.status, 409);
    const anonymous = await auth.call("GET", "/api/v1/auth/me");
    assert.equal(anonymous.status, 401);
    assert.ok(anonymous.body.detail);
    const forged = await auth.call("GET", "/api/v1/auth/me", {
      headers: { "x-gaia-identity": "not.a.token" },
    });
    assert.equal(forged.status, 401);
  });

  it("refuses login to a disabled account", async () => {
    const { email, password, login } = await auth.signUp();
    await auth.runtime.db.prisma.user.update({ where: { id: login.user.id }, data: { disabled: true } });
    const refused = await auth.call("POST", "/api/v1/auth/login", { body: { email, password } });
    assert.equal(refused.status, 403);
    const refresh = await auth.call("POST", "/api/v1/auth/refresh", {
      body: { refresh_token: login.refresh_token },
    });
    assert.equal(refresh.status, 403);
  });
});
