import assert from "node:assert/strict";
import { issueKeyForEmail } from "@gaia/auth/bootstrap";
import { INTERNAL_TOKEN_HEADER } from "@gaia/kit";
import { type ChatPlatform, eventually, INTERNAL_TOKEN, startChatPlatform } from "./support/platform.ts";

/**
 * A service token outlives the credential it was minted for unless auth's revocations reach the backends:
 * auth, gateway and chat run on runtimes of their own on one NATS, and a token obtained as the gateway obtains
 * it is presented to chat directly, as anyone who holds one could.
 */
describe("chat refuses identity tokens revoked after issue (auth, gateway, chat on NATS)", function () {
  this.timeout(60_000);
  let platform: ChatPlatform;

  before(async () => {
    platform = await startChatPlatform();
  });
  after(async () => {
    await platform?.close();
  });

  type Credential = { api_key: string } | { bearer: string };

  const mint = async (credential: Credential, headers = { [INTERNAL_TOKEN_HEADER]: INTERNAL_TOKEN }) => {
    const response = await fetch(`${platform.authUrl}/internal/authenticate`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(credential),
    });
    return { status: response.status, body: (await response.json()) as { token: string; detail?: string } };
  };
  const tokenFor = async (credential: Credential) => {
    const minted = await mint(credential);
    assert.equal(minted.status, 200, JSON.stringify(minted.body));
    return minted.body.token;
  };
  const onChat = async (token: string) => {
    const response = await fetch(`${platform.chatUrl}/api/v1/models`, {
      headers: { "x-gaia-identity": token },
    });
    return { status: response.status, body: (await response.json()) as { detail?: string } };
  };
  /** Revocations travel over NATS: allow them a moment, never the token's whole life. */
  const refusedSoon = (token: string) =>
    eventually(async () => {
      const reply = await onChat(token);
      return reply.status === 401 && reply;
    }, 5000);
  const viaGateway = async (method: string, path: string, bearer: string, body?: unknown) =>
    (
      await fetch(`${platform.gateway}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${bearer}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    ).status;

  it("mints identities only for the holder of the internal token", async () => {
    const user = await platform.newUser();
    assert.equal((await mint({ api_key: user.key }, { [INTERNAL_TOKEN_HEADER]: "" })).status, 401);
    assert.equal((await mint({ api_key: user.key }, { [INTERNAL_TOKEN_HEADER]: "guess" })).status, 401);
  });

  it("ends a key's tokens when the key is revoked", async () => {
    const user = await platform.newUser();
    const token = await tokenFor({ api_key: user.key });
    assert.equal((await onChat(token)).status, 200);
    assert.equal(await viaGateway("DELETE", `/api/v1/auth/keys/${user.keyId}`, user.accessToken), 204);
    const refused = await refusedSoon(token);
    assert.match(String(refused.body.detail), /revoked/);
  });

  it("ends a session's tokens when it logs out, and leaves the user's other sessions and keys alone", async () => {
    const user = await platform.newUser();
    const login = await fetch(`${platform.gateway}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: user.email, password: user.password }),
    });
    const second = (await login.json()) as { access_token: string };
    const first = await tokenFor({ bearer: user.accessToken });
    const other = await tokenFor({ bearer: second.access_token });
    const key = await tokenFor({ api_key: user.key });
    for (const token of [first, other, key]) assert.equal((await onChat(token)).status, 200);

    const logout = { refresh_token: user.refreshToken };
    assert.equal(await viaGateway("POST", "/api/v1/auth/logout", user.accessToken, logout), 204);
    assert.match(String((await refusedSoon(first)).body.detail), /session/);
    assert.equal((await onChat(other)).status, 200, "another session of the same user");
    assert.equal((await onChat(key)).status, 200, "the user's API key");

    // Without a refresh token, logout ends every session of the caller; keys are not sessions.
    assert.equal(await viaGateway("POST", "/api/v1/auth/logout", second.access_token, {}), 204);
    await refusedSoon(other);
    assert.equal((await onChat(key)).status, 200, "the user's API key after logging out everywhere");
  });

  it("ends the tokens minted before a role change or a disabled account, not those minted after", async () => {
    const admin = await issueKeyForEmail(
      platform.authRuntime.db.prisma,
      `chat-admin-${process.pid}-${Date.now()}@example.com`,
      "admin",
      "revocation tests",
    );
    const patch = async (userId: string, change: Record<string, unknown>) =>
      (
        await fetch(`${platform.gateway}/api/v1/auth/users/${userId}`, {
          method: "PATCH",
          headers: { "content-type": "application/json", "x-api-key": admin.key },
          body: JSON.stringify(change),
        })
      ).status;
    const user = await platform.newUser();
    const before = await tokenFor({ api_key: user.key });
    assert.equal((await onChat(before)).status, 200);

    assert.equal(await patch(user.userId, { role: "developer" }), 200);
    assert.match(String((await refusedSoon(before)).body.detail), /role/);
    const after = await tokenFor({ api_key: user.key });
    assert.equal((await onChat(after)).status, 200, "a token carrying the new role works at once");
    assert.equal((await platform.call(user, "GET", "/api/v1/models")).status, 200, "and so does the gateway");

    assert.equal(await patch(user.userId, { disabled: true }), 200);
    assert.match(String((await refusedSoon(after)).body.detail), /disabled/);
  });
});
