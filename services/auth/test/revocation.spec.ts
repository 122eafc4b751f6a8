import assert from "node:assert/strict";
import { type AuthUnderTest, eventually, type LoginBody, startAuthUnderTest } from "./harness.ts";

/**
 * Auth's own routes refuse identity tokens whose session ended after they were issued, with the revocation
 * carried by the in-process bus, as in `gaia dev` (no NATS, no Redis).
 */
describe("auth refuses identity tokens revoked after issue (in-process bus)", function () {
  this.timeout(60_000);
  let auth: AuthUnderTest;

  before(async () => {
    auth = await startAuthUnderTest();
  });
  after(() => auth?.close());

  const me = (token: string) =>
    auth.call<{ detail?: string }>("GET", "/api/v1/auth/me", { headers: { "x-gaia-identity": token } });
  const refusedSoon = (token: string) =>
    eventually(async () => {
      const reply = await me(token);
      return reply.status === 401 && reply;
    });
  const tokenFor = async (credential: string) => {
    const minted = await auth.authenticate(credential);
    assert.equal(minted.status, 200);
    return minted.body.token;
  };

  it("ends the session's tokens when a rotated refresh token comes back", async () => {
    const { login } = await auth.signUp();
    const rotated = await auth.call<LoginBody>("POST", "/api/v1/auth/refresh", {
      body: { refresh_token: login.refresh_token },
    });
    const token = await tokenFor(rotated.body.access_token);
    assert.equal((await me(token)).status, 200);
    const replay = await auth.call("POST", "/api/v1/auth/refresh", {
      body: { refresh_token: login.refresh_token },
    });
    assert.equal(replay.status, 401);
    assert.equal((await refusedSoon(token)).body.detail, "Identity token was revoked: its session has ended");
  });

  it("ends every session's tokens on a logout without refresh token, and leaves the user's keys alone", async () => {
    const { login } = await auth.signUp();
    const created = await auth.call<{ key: string }>("POST", "/api/v1/auth/keys", {
      as: login.access_token,
      body: { name: "stays" },
    });
    const session = await tokenFor(login.access_token);
    const key = await tokenFor(created.body.key);
    assert.equal(
      await auth.call("POST", "/api/v1/auth/logout", { as: login.access_token }).then((r) => r.status),
      204,
    );
    assert.match(String((await refusedSoon(session)).body.detail), /sessions have ended/);
    assert.equal((await me(key)).status, 200);
  });
});
