/**
 * Image tier: builds the platform and operator images (Docker or podman; images/build.sh), then runs them the
 * way a cluster does: as uid 10001 on a read-only root filesystem with writable tmpfs volumes, on the host's
 * network (loopback only). The platform image serves /health, migrates an empty PostgreSQL database and, as
 * three containers (auth, chat, gateway), streams a chat reply for an API key it created itself; it carries git,
 * ripgrep and ssh, and `gaia serve kb` becomes ready with a Git repository of its own; the operator image serves
 * /healthz and /metrics.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { asService, freePort, sharedPostgres } from "../support/servers.ts";
import {
  type Engine,
  engineRun,
  isRunning,
  logsOf,
  containerName as makeName,
  REPO_ROOT,
  removeContainers,
  runScript,
  selectEngine,
  userTmpfs,
} from "./engine.ts";

/** A cold build downloads every npm package (and may make the base images); later builds reuse layers. */
const BUILD_TIMEOUT_MS = 40 * 60 * 1000;
/** A service in the image compiles its TypeScript on start: seconds, more on a busy machine. */
const START_TIMEOUT_MS = 120_000;

const version = (
  JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string }
).version;
const repository = process.env.GAIA_IMAGE_REPOSITORY ?? "localhost/gaia";
const tag = process.env.GAIA_IMAGE_TAG ?? version;
const PLATFORM_IMAGE = `${repository}/gaia:${tag}`;
const OPERATOR_IMAGE = `${repository}/gaia-operator:${tag}`;

/** Polls an HTTP URL until it answers 200, failing early (with the container's log) when the container exits. */
async function waitForHttp(engine: Engine, container: string, url: string, timeoutMs = START_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
      const body = await response.text();
      if (response.status === 200) return body;
      last = `HTTP ${response.status}: ${body.slice(0, 300)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (!(await isRunning(engine, container))) {
      throw new Error(
        `container ${container} exited before ${url} answered. Its log:\n${await logsOf(engine, container)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `${url} did not answer 200 within ${timeoutMs} ms (last: ${last}). Log of ${container}:\n${await logsOf(engine, container)}`,
  );
}

describe("container images", function () {
  this.timeout(START_TIMEOUT_MS * 2);

  let engine: Engine;
  const containers: string[] = [];
  const started = (purpose: string) => {
    const name = makeName(purpose);
    containers.push(name);
    return name;
  };

  /** `run -d` of the platform image with the settings every test uses; returns the container's name. */
  async function runDetached(image: string, purpose: string, args: string[], command: string[]) {
    const name = started(purpose);
    const result = await engineRun(engine, [
      "run",
      "-d",
      "--name",
      name,
      "--network=host",
      "--read-only",
      ...userTmpfs(engine, "/tmp"),
      ...args,
      image,
      ...command,
    ]);
    assert.equal(result.code, 0, `could not start ${image}: ${result.stderr}`);
    return name;
  }

  before(async function () {
    this.timeout(BUILD_TIMEOUT_MS);
    engine = selectEngine();
    const build = await runScript(engine, "images/build.sh", ["all"], BUILD_TIMEOUT_MS);
    process.stderr.write(
      `      [images] ${engine.name} built both images in ${build.seconds.toFixed(1)} s\n`,
    );
  });

  afterEach(async () => {
    await removeContainers(engine, containers.splice(0));
  });

  it("platform image: runs as uid 10001 and carries no package manager", async () => {
    const result = await engineRun(engine, [
      "run",
      "--rm",
      "--read-only",
      PLATFORM_IMAGE,
      "sh",
      "-c",
      "id -u; id -g; command -v npm || echo no-npm; command -v gaia",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split("\n"), ["10001", "10001", "no-npm", "/usr/local/bin/gaia"]);
  });

  it("platform image: carries git, ripgrep, ssh and CA certificates (the kb service runs them)", async () => {
    const result = await engineRun(engine, [
      "run",
      "--rm",
      "--read-only",
      PLATFORM_IMAGE,
      "sh",
      "-c",
      "git --version && rg --version | head -n 1 && ssh -V 2>&1 && test -s /etc/ssl/certs/ca-certificates.crt && echo certificates; echo HOME=$HOME",
    ]);
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    const lines = result.stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /^git version \d+\./);
    assert.match(lines[1] ?? "", /^ripgrep \d+\./);
    assert.match(lines[2] ?? "", /^OpenSSH_/);
    assert.deepEqual(lines.slice(3), ["certificates", "HOME=/var/lib/gaia"]);
  });

  it("platform image: `gaia serve gateway` answers /health on a read-only root filesystem", async () => {
    const [port, metricsPort] = await Promise.all([freePort(), freePort()]);
    const name = await runDetached(
      PLATFORM_IMAGE,
      "gateway",
      [
        ...userTmpfs(engine, "/var/lib/gaia"),
        ...["-e", `GAIA_GATEWAY_PORT=${port}`, "-e", `GAIA_METRICS_PORT=${metricsPort}`],
      ],
      ["gaia", "serve", "gateway"],
    );
    const health = JSON.parse(await waitForHttp(engine, name, `http://127.0.0.1:${port}/health`)) as {
      service: string;
      status: string;
    };
    assert.equal(health.service, "gateway");
    // Alone, without its backends, the gateway reports itself degraded rather than failing.
    assert.ok(["healthy", "degraded"].includes(health.status), `unexpected status ${health.status}`);
    assert.match(
      await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
      /gaia_http_requests_total\{[^}]*service="gateway"/,
    );
    assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 404, "not on the public port");
  });

  it("platform image: `gaia db migrate` (the operator's migration Job) migrates an empty PostgreSQL database", async () => {
    const postgres = await sharedPostgres();
    const database = `gaia_image_${randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: postgres.adminUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${database}`);
    } finally {
      await admin.end();
    }
    const url = postgres.adminUrl.replace(/\/postgres$/, `/${database}`);
    const result = await engineRun(engine, [
      "run",
      "--rm",
      "--network=host",
      "--read-only",
      ...userTmpfs(engine, "/tmp"),
      "-e",
      `DATABASE_URL=${url}`,
      PLATFORM_IMAGE,
      "gaia",
      "db",
      "migrate",
    ]);
    assert.equal(result.code, 0, `gaia db migrate failed:\n${result.stdout}${result.stderr}`);
    const migrations = readdirSync(path.join(REPO_ROOT, "prisma", "migrations"), {
      withFileTypes: true,
    }).filter((entry) => entry.isDirectory()).length;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const applied = await client.query<{ count: string }>(
        "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL",
      );
      assert.equal(Number(applied.rows[0]?.count), migrations);
    } finally {
      await client.end();
    }
  });

  it("platform image: auth, chat and gateway containers stream a chat reply for a new API key", async function () {
    this.timeout(START_TIMEOUT_MS * 3);
    const postgres = await sharedPostgres();
    const databaseUrl = await postgres.createDatabase();
    const [gatewayPort, authPort, chatPort] = await Promise.all([freePort(), freePort(), freePort()]);
    // Each container serves its metrics on a port of its own (they share the host's network here).
    const metricsPorts: Record<string, number> = {
      auth: await freePort(),
      chat: await freePort(),
      gateway: await freePort(),
    };
    // What the operator's ConfigMap and generated Secret give every pod, on loopback ports.
    const env = [
      `DATABASE_URL=${databaseUrl}`,
      `GAIA_GATEWAY_PORT=${gatewayPort}`,
      `GAIA_AUTH_PORT=${authPort}`,
      `GAIA_CHAT_PORT=${chatPort}`,
      `GAIA_AUTH_URL=http://127.0.0.1:${authPort}`,
      `GAIA_CHAT_URL=http://127.0.0.1:${chatPort}`,
      `GAIA_INTERNAL_TOKEN=${randomBytes(32).toString("hex")}`,
    ].flatMap((pair) => ["-e", pair]);
    const data = userTmpfs(engine, "/var/lib/gaia");
    const names: Record<string, string> = {};
    for (const service of ["auth", "chat", "gateway"]) {
      names[service] = await runDetached(
        PLATFORM_IMAGE,
        service,
        [...data, ...env, "-e", `GAIA_METRICS_PORT=${metricsPorts[service]}`],
        ["gaia", "serve", service],
      );
    }
    await Promise.all([
      waitForHttp(engine, names.auth!, `http://127.0.0.1:${authPort}/ready`),
      waitForHttp(engine, names.chat!, `http://127.0.0.1:${chatPort}/ready`),
      waitForHttp(engine, names.gateway!, `http://127.0.0.1:${gatewayPort}/ready`),
    ]);

    // The bootstrap command an operator runs in an auth pod (kubectl exec ... gaia keys create).
    const created = await engineRun(engine, [
      "exec",
      names.auth!,
      "gaia",
      "keys",
      "create",
      "--email",
      "images@example.com",
      "--role",
      "developer",
    ]);
    assert.equal(created.code, 0, `gaia keys create failed:\n${created.stdout}${created.stderr}`);
    const key = created.stdout.match(/gaia_[A-Za-z0-9]+_[A-Za-z0-9_-]+/)?.[0];
    assert.ok(key, `no API key in the output of gaia keys create:\n${created.stdout}`);

    const message = `hello from the image test ${randomBytes(3).toString("hex")}`;
    const response = await fetch(`http://127.0.0.1:${gatewayPort}/api/v1/chat`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": key },
      body: JSON.stringify({ message, stream: true }),
      signal: AbortSignal.timeout(60_000),
    });
    const body = await response.text();
    assert.equal(response.status, 200, body);
    assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
    const events = body
      .split("\n")
      .filter((line) => line.startsWith("data: "))
      .map((line) => line.slice("data: ".length));
    assert.equal(events.at(-1), "[DONE]", `the stream did not end with [DONE]:\n${body}`);
    const text = events
      .slice(0, -1)
      .map((chunk) => JSON.parse(chunk) as { choices?: { delta?: { content?: string } }[] })
      .map((chunk) => chunk.choices?.[0]?.delta?.content ?? "")
      .join("");
    // The offline echo model repeats the message after its label.
    assert.ok(text.includes(message), `the streamed reply does not echo the message:\n${text}`);
  });

  it("platform image: `gaia serve kb` becomes ready with a Git repository of its own on a read-only root filesystem", async () => {
    const postgres = await sharedPostgres();
    // The migrated database (the migration Job's work), reached with the kb's own role as the operator gives it.
    const databaseUrl = asService(await postgres.createDatabase(), "kb");
    const [port, metricsPort] = await Promise.all([freePort(), freePort()]);
    const name = await runDetached(
      PLATFORM_IMAGE,
      "kb",
      [
        ...userTmpfs(engine, "/var/lib/gaia"),
        ...["-e", `DATABASE_URL=${databaseUrl}`],
        ...["-e", `GAIA_KB_PORT=${port}`, "-e", `GAIA_METRICS_PORT=${metricsPort}`],
        ...["-e", `GAIA_INTERNAL_TOKEN=${randomBytes(32).toString("hex")}`],
      ],
      ["gaia", "serve", "kb"],
    );
    // No KB_GIT_URL: kb makes a repository under GAIA_DATA_DIR and is ready once git has seeded it.
    await waitForHttp(engine, name, `http://127.0.0.1:${port}/ready`);
    const health = JSON.parse(
      await (await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(10_000) })).text(),
    ) as { service?: string; status?: string; mode?: string; storage?: string };
    assert.equal(health.service, "kb", JSON.stringify(health));
    assert.equal(health.mode, "git", JSON.stringify(health));
    assert.equal(health.storage, "ready", JSON.stringify(health));
    const log = await engineRun(engine, [
      "exec",
      name,
      "git",
      "-C",
      "/var/lib/gaia/kb",
      "log",
      "--format=%s",
    ]);
    assert.equal(log.code, 0, `git log in the kb's working copy failed:\n${log.stdout}${log.stderr}`);
    assert.match(log.stdout, /Seed the knowledge base/);
  });

  it("operator image: serves /healthz and /metrics on a read-only root filesystem", async () => {
    const port = await freePort();
    // No cluster to talk to: the operator keeps trying to take its Lease, and still answers its health port.
    const name = await runDetached(
      OPERATOR_IMAGE,
      "operator",
      ["-e", `METRICS_PORT=${port}`, "-e", "KUBERNETES_SERVICE_HOST="],
      [],
    );
    assert.equal((await waitForHttp(engine, name, `http://127.0.0.1:${port}/healthz`)).trim(), "ok");
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /^# HELP gaia_operator_/m);
  });
});
