import assert from "node:assert/strict";
import { queryAsOwner } from "../../../test/support/servers.ts";
import { hashApiKey } from "../src/apikeys.ts";
import { issueKeyForEmail } from "../src/bootstrap.ts";
import {
  type AuthUnderTest,
  type AuthWithEvents,
  eventually,
  type Recorded,
  startAuthWithEvents,
} from "./harness.ts";

interface KeyBody {
  id: string;
  key: string;
  prefix: string;
  name: string;
  permissions: string[];
  last_used_at: string | null;
}

describe("auth API keys (PostgreSQL, Redis, NATS)", function () {
  this.timeout(60_000);
  let platform: AuthWithEvents;
  let auth: AuthUnderTest;
  let events: Recorded[];

  before(async () => {
    platform = await startAuthWithEvents({ GAIA_KEY_LAST_USED_FLUSH_SECONDS: "1" });
    ({ auth, events } = platform);
  });
  after(() => platform?.close());

  it("creates a key shown once, lists it without the secret, and it authenticates", async () => {
    const { login } = await auth.signUp();
    const created = await auth.call<KeyBody>("POST", "/api/v1/auth/keys", {
      as: login.access_token,
      body: { name: "unity build" },
    });
    assert.equal(created.status, 201);
    assert.match(created.body.key, /^gaia_[a-z0-9]{8}_/);
    assert.ok(created.body.key.startsWith(`gaia_${created.body.prefix}_`));
    assert.equal(created.body.name, "unity build");
    assert.deepEqual(created.body.permissions, ["kb:read", "chat:create", "asset:generate"]);

    const stored = await auth.runtime.db.prisma.apiKey.findUniqueOrThrow({ where: { id: created.body.id } });
    assert.equal(stored.keyHash, hashApiKey(created.body.key));
    assert.ok(!JSON.stringify(stored).includes(created.body.key.split("_")[2]!), "the secret is not stored");

    const viaKey = await auth.authenticate(created.body.key);
    assert.equal(viaKey.status, 200);
    assert.deepEqual(
      [viaKey.body.identity.userId, viaKey.body.identity.authType, viaKey.body.identity.keyId],
      [login.user.id, "api_key", created.body.id],
    );
    assert.ok(viaKey.body.expires_at > Date.now() / 1000 + 250);

    const listed = await auth.call<{ keys: KeyBody[] }>("GET", "/api/v1/auth/keys", {
      as: login.access_token,
    });
    assert.equal(listed.status, 200);
    const item = listed.body.keys.find((k) => k.id === created.body.id);
    assert.ok(item);
    assert.equal(item.prefix, created.body.prefix);
    assert.equal((item as Partial<KeyBody>).key, undefined);
    assert.ok(item.last_used_at, "last use shown at once, before it is written");
  });

  it("rejects a revoked key at once, although its identity was cached", async () => {
    const { login } = await auth.signUp();
    const created = await auth.call<KeyBody>("POST", "/api/v1/auth/keys", {
      as: login.access_token,
      body: { name: "doomed" },
    });
    const hash = hashApiKey(created.body.key);
    const minted = await auth.authenticate(created.body.key);
    assert.equal(minted.status, 200);
    assert.ok(await auth.runtime.cache.get(`authn:${hash}`), "identity cached for the gateway's fast path");

    const revoked = await auth.call("DELETE", `/api/v1/auth/keys/${created.body.id}`, {
      as: login.access_token,
    });
    assert.equal(revoked.status, 204);
    assert.equal(await auth.runtime.cache.get(`authn:${hash}`), null);
    const after = await auth.authenticate(created.body.key);
    assert.equal(after.status, 401);
    assert.deepEqual(Object.keys(after.body), ["detail", "code"]);

    const listed = await auth.call<{ keys: KeyBody[] }>("GET", "/api/v1/auth/keys", {
      as: login.access_token,
    });
    assert.ok(!listed.body.keys.some((k) => k.id === created.body.id));
    const event = await eventually(() =>
      events.find(
        (e) => e.subject === "gaia.auth.credential.revoked" && (e.payload.hashes as string[]).includes(hash),
      ),
    );
    assert.ok(event);
    await eventually(() =>
      events.find((e) => e.subject === "gaia.auth.key.revoked" && e.payload.subject_id === created.body.id),
    );
    const audit = await auth.runtime.db.prisma.auditLog.findMany({ where: { subjectId: created.body.id } });
    assert.deepEqual(audit.map((row) => row.action).sort(), ["auth.key.created", "auth.key.revoked"]);

    // The identity token minted for the key before: auth learns of the revocation from the bus, like any
    // service, and checks the announcement against its own keys.
    await eventually(() => events.find((e) => e.subject === "gaia.auth.identity.revoked"));
    const withOldToken = await eventually(async () => {
      const reply = await auth.call<{ detail: string }>("GET", "/api/v1/auth/keys", {
        headers: { "x-gaia-identity": minted.body.token },
      });
      return reply.status === 401 && reply;
    });
    assert.equal(withOldToken.body.detail, "Identity token was revoked: its API key was revoked");
  });

  it("carries fewer permissions than its owner when asked, never more", async () => {
    const { login } = await auth.signUp();
    const narrow = await auth.call<KeyBody>("POST", "/api/v1/auth/keys", {
      as: login.access_token,
      body: { name: "read only", permissions: ["kb:read"] },
    });
    assert.equal(narrow.status, 201);
    assert.deepEqual(narrow.body.permissions, ["kb:read"]);
    const identity = (await auth.authenticate(narrow.body.key)).body.identity;
    assert.deepEqual(identity.permissions, ["kb:read"]);

    const beyond = await auth.call("POST", "/api/v1/auth/keys", {
      as: login.access_token,
      body: { name: "greedy", permissions: ["kb:write"] },
    });
    assert.equal(beyond.status, 403);
    // A narrowed key cannot mint a wider one.
    const laundering = await auth.call("POST", "/api/v1/auth/keys", {
      as: narrow.body.key,
      body: { name: "wider", permissions: ["chat:create"] },
    });
    assert.equal(laundering.status, 403);
    const unknown = await auth.call("POST", "/api/v1/auth/keys", {
      as: login.access_token,
      body: { name: "odd", permissions: ["root"] },
    });
    assert.equal(unknown.status, 422);
  });

  it("rejects an expired key, and refuses an expiry in the past", async () => {
    const { login } = await auth.signUp();
    const past = await auth.call("POST", "/api/v1/auth/keys", {
      as: login.access_token,
      body: { name: "stale", expires_at: new Date(Date.now() - 1000).toISOString() },
    });
    assert.equal(past.status, 422);
    const soon = await auth.call<KeyBody>("POST", "/api/v1/auth/keys", {
      as: login.access_token,
      body: { name: "short-lived", expires_at: new Date(Date.now() + 60_000).toISOString() },
    });
    assert.equal(soon.status, 201);
    await auth.runtime.db.prisma.apiKey.update({
      where: { id: soon.body.id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const expired = await auth.authenticate(soon.body.key);
    assert.equal(expired.status, 401);
    assert.match(String((expired.body as { detail?: string }).detail), /expired/);
  });

  it("lets only the owner (or an admin) revoke a key", async () => {
    const owner = await auth.signUp();
    const stranger = await auth.signUp();
    const created = await auth.call<KeyBody>("POST", "/api/v1/auth/keys", {
      as: owner.login.access_token,
      body: { name: "mine" },
    });
    const attempt = await auth.call("DELETE", `/api/v1/auth/keys/${created.body.id}`, {
      as: stranger.login.access_token,
    });
    assert.equal(attempt.status, 404);
    assert.equal((await auth.authenticate(created.body.key)).status, 200);
    const garbage = await auth.call("DELETE", "/api/v1/auth/keys/not-a-uuid", {
      as: owner.login.access_token,
    });
    assert.equal(garbage.status, 404);
  });

  it("sets a key's budget when it is made and later; only its owner or an admin may change it", async () => {
    const owner = await auth.signUp();
    const stranger = await auth.signUp();
    const created = await auth.call<KeyBody & { budget_usd: number | null }>("POST", "/api/v1/auth/keys", {
      as: owner.login.access_token,
      body: { name: "ci", budget_usd: 2.5 },
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.budget_usd, 2.5);
    const path = `/api/v1/auth/keys/${created.body.id}`;
    const stored = () => auth.runtime.db.prisma.apiKey.findUniqueOrThrow({ where: { id: created.body.id } });

    const hijack = await auth.call("PATCH", path, {
      as: stranger.login.access_token,
      body: { budget_usd: 1_000 },
    });
    assert.equal(hijack.status, 404, "a stranger learns nothing, changes nothing");
    assert.equal(Number((await stored()).budgetUsd), 2.5);

    for (const body of [{}, { budget_usd: -1 }, { budget_usd: "5" }, { budget_usd: 1e9 }, { name: " " }]) {
      const refused = await auth.call<{ detail: string }>("PATCH", path, {
        as: owner.login.access_token,
        body,
      });
      assert.equal(refused.status, 422, JSON.stringify(body));
      assert.ok(refused.body.detail, JSON.stringify(body));
    }
    assert.equal(Number((await stored()).budgetUsd), 2.5, "a refused change changes nothing");

    const changed = await auth.call<KeyBody & { budget_usd: number | null }>("PATCH", path, {
      as: owner.login.access_token,
      body: { budget_usd: 0.125, name: "ci runner" },
    });
    assert.equal(changed.status, 200);
    assert.deepEqual([changed.body.budget_usd, changed.body.name], [0.125, "ci runner"]);
    assert.equal((changed.body as Partial<KeyBody>).key, undefined, "the secret is never shown again");
    assert.deepEqual([Number((await stored()).budgetUsd), (await stored()).name], [0.125, "ci runner"]);

    const lifted = await auth.call<{ budget_usd: number | null }>("PATCH", path, {
      as: owner.login.access_token,
      body: { budget_usd: null },
    });
    assert.equal(lifted.body.budget_usd, null);
    assert.equal((await stored()).budgetUsd, null);
    const audited = await auth.runtime.db.prisma.auditLog.count({
      where: { action: "auth.key.updated", subjectId: created.body.id },
    });
    assert.equal(audited, 2);

    await auth.call("DELETE", path, { as: owner.login.access_token });
    const gone = await auth.call("PATCH", path, { as: owner.login.access_token, body: { budget_usd: 9 } });
    assert.equal(gone.status, 404, "a revoked key cannot be changed");
  });

  it("writes last use in batches, not one write per request (CLI-issued key)", async () => {
    const db = auth.runtime.db.prisma;
    // Count the statements that touch last_used_at, with a trigger in this test's own database: set up as the
    // database's owner, since auth's own role may create nothing.
    const url = auth.runtime.env.DATABASE_URL!;
    await queryAsOwner(url, "CREATE TABLE last_used_writes (at timestamptz DEFAULT now())");
    await queryAsOwner(
      url,
      `CREATE FUNCTION count_last_used() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS
      $$ BEGIN INSERT INTO last_used_writes DEFAULT VALUES; RETURN NULL; END $$`,
    );
    await queryAsOwner(
      url,
      `CREATE TRIGGER last_used_written AFTER UPDATE OF last_used_at ON api_keys
      FOR EACH STATEMENT EXECUTE FUNCTION count_last_used()`,
    );
    const issued = await issueKeyForEmail(db, "cli-user@example.com", "developer", "ci");
    for (let i = 0; i < 30; i++) assert.equal((await auth.authenticate(issued.key)).status, 200);
    const written = await waitForLastUsed(auth, issued.keyId);
    assert.ok(written.getTime() <= Date.now());
    const [{ n } = { n: 0 }] = await queryAsOwner<{ n: number }>(
      url,
      "SELECT count(*)::int AS n FROM last_used_writes",
    );
    assert.ok(n >= 1 && n <= 3, `30 uses, ${n} writes`);
    const audit = await auth.runtime.db.prisma.auditLog.findFirst({ where: { subjectId: issued.keyId } });
    assert.equal(audit?.action, "auth.key.created");
  });
});

async function waitForLastUsed(auth: AuthUnderTest, keyId: string): Promise<Date> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const row = await auth.runtime.db.prisma.apiKey.findUniqueOrThrow({ where: { id: keyId } });
    if (row.lastUsedAt) return row.lastUsedAt;
    if (Date.now() > deadline) throw new Error("last_used_at never written");
    await new Promise((r) => setTimeout(r, 100));
  }
}
