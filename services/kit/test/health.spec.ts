import assert from "node:assert/strict";
import { type Postgres, startPostgres } from "../../../test/support/servers.ts";
import { until } from "../../../test/support/wait.ts";
import { type Database, openDatabase } from "../src/db/client.ts";
import { createApp } from "../src/http/app.ts";
import { type Listening, listen } from "../src/http/serve.ts";
import { createLogger } from "../src/log.ts";

const log = createLogger("test", "silent");

describe("health and readiness follow the database (PostgreSQL, stopped and started)", function () {
  this.timeout(60_000);
  let postgres: Postgres;
  let db: Database;
  let server: Listening;

  before(async () => {
    // A cluster of its own: the one the other suites share must not go away under them.
    postgres = await startPostgres();
    db = await openDatabase({ kind: "postgres", url: await postgres.createDatabase() });
    const { app } = createApp({
      name: "with-db",
      log,
      database: db,
      health: () => ({ cache: "ok" }),
      routes() {},
    });
    server = await listen(app, 0, log, "127.0.0.1");
  });
  after(async () => {
    await server?.close(1000);
    await db?.close();
  });

  const health = async () => {
    const res = await fetch(`${server.url}/health`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const ready = async () => {
    const res = await fetch(`${server.url}/ready`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it("says healthy and ready while the database answers, degraded and not ready while it is away", async () => {
    assert.deepEqual(await health(), {
      status: 200,
      body: { status: "healthy", service: "with-db", database: "ok", cache: "ok" },
    });
    assert.deepEqual(await ready(), { status: 200, body: { status: "ready" } });

    await postgres.stop();
    // Alive (a restart would not bring the database back), but not to be sent traffic.
    assert.deepEqual(await health(), {
      status: 200,
      body: { status: "degraded", service: "with-db", database: "unavailable", cache: "ok" },
    });
    assert.deepEqual(await ready(), {
      status: 503,
      body: { detail: "with-db is not ready: its database is unavailable" },
    });

    await postgres.start();
    await until(async () => (await ready()).status === 200, 10_000);
    assert.equal((await health()).body.status, "healthy");
  });

  it("keeps the shape of a service without a database", async () => {
    const { app } = createApp({ name: "no-db", log, routes() {} });
    const bare = await listen(app, 0, log, "127.0.0.1");
    try {
      assert.deepEqual(await (await fetch(`${bare.url}/health`)).json(), {
        status: "healthy",
        service: "no-db",
      });
      assert.equal((await fetch(`${bare.url}/ready`)).status, 200);
    } finally {
      await bare.close(1000);
    }
  });
});
