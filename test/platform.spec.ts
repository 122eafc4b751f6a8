import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { gaia, type Platform, startPlatform } from "./support/cli.ts";

/**
 * The platform tier: the real `gaia` CLI starts every service in one process on real PostgreSQL, Redis and
 * NATS, and a client drives it only through the gateway, as a game client would.
 */

async function sseEvents(res: Response): Promise<unknown[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .map((block) =>
      block
        .split("\n")
        .find((line) => line.startsWith("data: "))
        ?.slice(6),
    )
    .filter((data): data is string => data !== undefined && data !== "[DONE]")
    .map((data) => JSON.parse(data));
}

describe("platform: the gaia CLI on real PostgreSQL, Redis and NATS", function () {
  this.timeout(120_000);
  let platform: Platform;
  let dataDir: string;
  let env: Record<string, string>;
  let gateway: string;
  let dev: Platform["dev"];

  before(async () => {
    platform = await startPlatform();
    ({ dataDir, env, gateway, dev } = platform);
  });

  after(() => platform?.stop());

  it("says which step it is on and what to do next", () => {
    const out = dev.output();
    assert.match(out, /\[1\/4\] opening PostgreSQL at 127\.0\.0\.1:\d+\/gaia_test_\d+_\d+ \.\.\. done/);
    assert.match(out, /\[4\/4\] starting auth, asset, chat, kb, gateway \.\.\. done/);
    assert.match(out, /Gaia is running in [\d.]+s on PostgreSQL, Redis, NATS/);
    assert.ok(out.includes(`gateway  ${gateway}\n`), "the gateway's URL, as it listens");
    assert.match(out, /listening on 127\.0\.0\.1 only; GAIA_BIND=0\.0\.0\.0 listens on every interface/);
    assert.match(out, /offline echo model: set OPENAI_API_KEY or ANTHROPIC_API_KEY/);
    assert.match(out, /Try it:\n {2}curl -H "X-API-Key/);
    assert.ok(!out.includes(env.DATABASE_URL!), "the database URL is never printed");
  });

  it("writes the first admin key once, readable by its owner only", async () => {
    const info = await stat(join(dataDir, "admin.key"));
    assert.equal(info.mode & 0o777, 0o600);
    const key = (await readFile(join(dataDir, "admin.key"), "utf8")).trim();
    assert.match(key, /^gaia_[a-z0-9]{8}_[\w-]{32,64}$/);
    assert.ok(dev.output().includes(key), "shown once on first start");
  });

  it("serves a user from registration to a streamed reply, through the gateway only", async () => {
    const email = `player${Date.now()}@example.com`;
    const register = await fetch(`${gateway}/api/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: "correct horse battery" }),
    });
    assert.equal(register.status, 201);
    const login = await fetch(`${gateway}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: "correct horse battery" }),
    });
    const session = (await login.json()) as {
      access_token: string;
      token_type: string;
      user: { email: string };
    };
    assert.equal(session.token_type, "bearer");
    assert.equal(session.user.email, email);

    const created = await fetch(`${gateway}/api/v1/auth/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${session.access_token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "unity client", permissions: ["chat:create"] }),
    });
    assert.equal(created.status, 201);
    const { key } = (await created.json()) as { key: string };

    const reply = await fetch(`${gateway}/api/v0.3/chat`, {
      method: "POST",
      headers: { "x-api-key": key, "content-type": "application/json" },
      body: JSON.stringify({ message: "Describe the tavern", stream: true }),
    });
    assert.equal(reply.status, 200);
    assert.match(reply.headers.get("content-type") ?? "", /text\/event-stream/);
    assert.ok(reply.headers.get("x-request-id"));
    const events = (await sseEvents(reply)) as { type: string; content?: string }[];
    assert.ok(events.filter((e) => e.type === "content").length > 1, "the reply arrives in several chunks");
    assert.equal(events.at(-1)?.type, "done");

    const denied = await fetch(`${gateway}/api/v1/auth/users`, { headers: { "x-api-key": key } });
    assert.equal(denied.status, 403, "a chat-only key cannot reach admin endpoints");
  });

  it("keeps a user's notes in the knowledge base: the admin's key writes, a new user finds shared lore", async () => {
    const admin = (await readFile(join(dataDir, "admin.key"), "utf8")).trim();
    const headers = { "x-api-key": admin, "content-type": "application/json" };
    const write = await fetch(`${gateway}/api/v0.2/kb/write`, {
      method: "POST",
      headers,
      body: JSON.stringify({ path: "shared/tavern.md", content: "# The Gilded Boar\n\nMara pours mead.\n" }),
    });
    assert.equal(write.status, 201, await write.clone().text());
    const search = await fetch(`${gateway}/api/v0.2/kb/search`, {
      method: "POST",
      headers,
      body: JSON.stringify({ query: "mead" }),
    });
    const found = (await search.json()) as { results: { path: string; line: number }[] };
    assert.deepEqual(
      found.results.map((h) => [h.path, h.line]),
      [["shared/tavern.md", 3]],
    );
  });

  it("makes an image, a 3D model and a sound with the offline placeholder, labelled as such", async () => {
    const admin = (await readFile(join(dataDir, "admin.key"), "utf8")).trim();
    for (const [type, magic] of [
      ["image", "PNG"],
      ["model3d", "glTF"],
      ["sound", "RIFF"],
    ] as const) {
      const made = await fetch(`${gateway}/api/v1/assets/generate`, {
        method: "POST",
        headers: { "x-api-key": admin, "content-type": "application/json" },
        body: JSON.stringify({ type, prompt: `the tavern's ${type}` }),
      });
      const body = (await made.json()) as {
        provider: string;
        download_url: string;
        asset: { offline_placeholder?: boolean };
      };
      assert.equal(made.status, 201, JSON.stringify(body));
      assert.equal(body.provider, "placeholder");
      assert.equal(body.asset.offline_placeholder, true);
      const file = Buffer.from(
        await (
          await fetch(`${gateway}${body.download_url}`, { headers: { "x-api-key": admin } })
        ).arrayBuffer(),
      );
      assert.ok(file.subarray(0, 4).toString().includes(magic), type);
    }
  });

  it("aggregates every backend's health: all four answer", async () => {
    const health = (await (await fetch(`${gateway}/health`)).json()) as {
      status: string;
      services: Record<string, { status: string }>;
    };
    assert.equal(health.services.auth?.status, "healthy");
    assert.equal(health.services.chat?.status, "healthy");
    assert.equal(health.services.kb?.status, "healthy");
    assert.equal(health.services.asset?.status, "healthy");
    assert.equal(health.status, "healthy", "every backend of this build answers");
  });

  it("serves every service's metrics on the metrics port it prints, and none through the gateway", async () => {
    const printed = new RegExp(`metrics +(http://127\\.0\\.0\\.1:${env.GAIA_METRICS_PORT}/metrics)`).exec(
      dev.output(),
    );
    assert.ok(printed, "gaia dev prints the metrics URL");
    const metrics = await (await fetch(printed[1]!)).text();
    for (const service of ["auth", "asset", "chat", "kb", "gateway"])
      assert.match(metrics, new RegExp(`gaia_http_requests_total\\{[^}]*service="${service}"`), service);
    assert.equal(
      (metrics.match(/^# TYPE gaia_http_requests_total /gm) ?? []).length,
      1,
      "one family, all services",
    );
    assert.equal((await fetch(`${gateway}/metrics`)).status, 404);
  });

  it("stops cleanly on SIGTERM", async () => {
    dev.child.kill("SIGTERM");
    assert.equal(await dev.exited, 0);
    await assert.rejects(fetch(`${gateway}/health`));
  });

  it("issues keys from the CLI and reports migration status", async () => {
    const keys = gaia(["keys", "create", "--email", "ops@example.com", "--role", "developer"], env);
    assert.equal(await keys.exited, 0, keys.output());
    assert.match(keys.output(), /Created key "cli" for ops@example\.com \(developer\)/);
    assert.match(keys.output(), /^gaia_[a-z0-9]{8}_/m);

    const status = gaia(["db", "status"], env);
    assert.equal(await status.exited, 0, status.output());
    assert.match(status.output(), /(\d+) of \1 migrations applied\.\nUp to date\./);

    const bad = gaia(["dev"], { ...env, REDIS_URL: "localhost:6379" });
    assert.equal(await bad.exited, 78);
    assert.match(
      bad.output(),
      /configuration error: REDIS_URL: expected a redis:\/\/ or rediss:\/\/ URL \(value hidden\)/,
    );
  });
});
