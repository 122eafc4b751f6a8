import assert from "node:assert/strict";
import { chatConfig } from "../services/chat/src/config.ts";
import { startChat } from "../services/chat/src/main.ts";
import type { RunningService, Runtime } from "../services/kit/src/index.ts";
import { startTestAuth, startTestGateway, type TestAuth, type TestGateway } from "./support/platform.ts";
import { startService, testRuntime } from "./support/runtime.ts";
import { type Postgres, startPostgres } from "./support/servers.ts";
import { until } from "./support/wait.ts";

const INTERNAL_TOKEN = "outage-test-internal-token-0123456789abcdef";

type Health = { status: string; database?: string; services?: Record<string, { status: string }> };

/** Every service with a database says so when it is gone: degraded in /health, 503 from /ready, and back after. */
describe("a PostgreSQL outage, as auth, chat and the gateway report it", function () {
  this.timeout(90_000);
  let postgres: Postgres;
  let auth: TestAuth;
  let chatRuntime: Runtime;
  let chat: RunningService;
  let gateway: TestGateway;

  before(async function () {
    this.timeout(120_000);
    // A cluster of its own, since this suite stops it.
    postgres = await startPostgres();
    const databaseUrl = await postgres.createDatabase();
    auth = await startTestAuth({ databaseUrl, internalToken: INTERNAL_TOKEN });
    chatRuntime = await testRuntime({ databaseUrl, env: { GAIA_AUTH_URL: auth.url } });
    chat = await startService(chatRuntime, "chat", (ctx) => startChat(ctx, chatConfig({})));
    gateway = await startTestGateway({
      internalToken: INTERNAL_TOKEN,
      urls: { auth: auth.url, chat: chat.url },
    });
  });
  after(async () => {
    await gateway?.close(500);
    await chat?.close(500);
    await chatRuntime?.close();
    await auth?.close(500);
  });

  const get = async (url: string) => {
    const res = await fetch(url);
    return { status: res.status, body: (await res.json()) as Health & { detail?: string } };
  };

  it("reports each backend degraded and unready while the database is away, and healthy once it is back", async () => {
    for (const service of [auth.url, chat.url]) {
      assert.deepEqual(
        [(await get(`${service}/health`)).body.database, (await get(`${service}/ready`)).status],
        ["ok", 200],
      );
    }
    assert.equal((await get(`${gateway.url}/health`)).body.services?.auth?.status, "healthy");

    await postgres.stop();
    for (const [name, service] of [
      ["auth", auth.url],
      ["chat", chat.url],
    ] as const) {
      const health = await get(`${service}/health`);
      assert.equal(health.status, 200, `${name} stays alive: a restart would not bring the database back`);
      assert.equal(health.body.status, "degraded", name);
      assert.equal(health.body.database, "unavailable", name);
      assert.deepEqual(await get(`${service}/ready`), {
        status: 503,
        body: { detail: `${name} is not ready: its database is unavailable` },
      });
    }
    const platform = await get(`${gateway.url}/health`);
    assert.equal(platform.status, 200);
    assert.equal(platform.body.status, "degraded");
    assert.equal(platform.body.services?.auth?.status, "degraded");
    assert.equal(platform.body.services?.chat?.status, "degraded");

    await postgres.start();
    await until(async () => {
      const services = (await get(`${gateway.url}/health`)).body.services;
      return services?.auth?.status === "healthy" && services.chat?.status === "healthy";
    }, 15_000);
    assert.equal((await get(`${auth.url}/ready`)).status, 200);
    assert.equal((await get(`${chat.url}/ready`)).status, 200);
  });
});
