import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import {
  NATS_USERS,
  type NatsUser,
  natsAuthorization,
  REDIS_USERS,
  type RedisUser,
  redisUserArgs,
} from "../../services/kit/src/datastores.ts";

/**
 * Real PostgreSQL, Redis and NATS for tests, started from the installed binaries on private loopback ports and
 * stopped afterwards. A missing binary fails with the package to install, never with a silent skip.
 */

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function findBinary(name: string, dirs: string[], install: string): string {
  for (const dir of dirs) if (existsSync(join(dir, name))) return join(dir, name);
  try {
    return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
  } catch {
    throw new Error(`${name} is not installed; install it with: ${install}`);
  }
}

async function waitFor(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
  child?: ChildProcess,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not start within ${timeoutMs} ms`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.connect(port, "127.0.0.1");
  });
}

function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/**
 * A server that a test can take away and bring back on the same port. Redis and NATS run with the users and
 * permissions of a deployment: `urlFor(service)` connects as that service, `url` as an unrestricted admin.
 */
export interface StoppableServer<User extends string = string> {
  url: string;
  urlFor(user: User): string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

async function stoppable<User extends string>(
  name: string,
  port: number,
  url: string,
  urlFor: (user: User) => string,
  launch: () => ChildProcess,
  cleanup: () => Promise<void>,
): Promise<StoppableServer<User>> {
  let child: ChildProcess | undefined;
  const start = async () => {
    child = launch();
    child.stderr?.resume();
    child.stdout?.resume();
    await waitFor(() => canConnect(port), name, 15_000, child);
  };
  await start();
  const server: StoppableServer<User> = {
    url,
    urlFor,
    port,
    stop: () => stopChild(child),
    start,
  };
  registerCleanup(async () => {
    await stopChild(child);
    await cleanup();
  });
  return server;
}

/** A password for each user (as the operator generates them) and one for the tests' admin. */
function passwords<User extends string>(users: readonly User[]): Record<User | "admin", string> {
  const fresh = () => randomBytes(24).toString("base64url");
  return Object.fromEntries([...users, "admin"].map((user) => [user, fresh()])) as Record<
    User | "admin",
    string
  >;
}

export async function startRedis(): Promise<StoppableServer<RedisUser>> {
  const bin = findBinary("redis-server", [], "apt-get install -y redis-server");
  const port = await freePort();
  const secret = passwords(REDIS_USERS);
  const users = [
    ...redisUserArgs((user) => secret[user]),
    ...["--user", "admin", "on", `>${secret.admin}`, "~*", "&*", "+@all"],
  ];
  const at = (user: string) => `redis://${user}:${secret[user as RedisUser | "admin"]}@127.0.0.1:${port}`;
  return stoppable(
    "redis-server",
    port,
    at("admin"),
    at,
    () =>
      spawn(
        bin,
        ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...users],
        { stdio: "pipe" },
      ),
    async () => {},
  );
}

export async function startNats(): Promise<StoppableServer<NatsUser>> {
  const bin = findBinary("nats-server", [], "apt-get install -y nats-server");
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "gaia-nats-"));
  const secret = passwords(NATS_USERS);
  const config = join(dir, "nats.conf");
  await writeFile(
    config,
    `${natsAuthorization(
      (user) => JSON.stringify(secret[user]),
      [`{ user: "admin", password: ${JSON.stringify(secret.admin)} }`],
    )}\n`,
  );
  const at = (user: string) => `nats://${user}:${secret[user as NatsUser | "admin"]}@127.0.0.1:${port}`;
  return stoppable(
    "nats-server",
    port,
    at("admin"),
    at,
    () =>
      spawn(bin, ["-c", config, "-a", "127.0.0.1", "-p", String(port), "-js", "-sd", join(dir, "js")], {
        stdio: "pipe",
      }),
    () => rm(dir, { recursive: true, force: true }),
  );
}

export interface Postgres {
  /** The server's URL for the `postgres` maintenance database. */
  adminUrl: string;
  /** A fresh database with every migration applied. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

const PG_DIRS = ["/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"];

/** A PostgreSQL cluster from the installed binaries; as root, it runs as the `postgres` user (initdb refuses root). */
async function startPostgres(): Promise<Postgres> {
  const initdb = findBinary("initdb", PG_DIRS, "apt-get install -y postgresql");
  const postgres = findBinary("postgres", PG_DIRS, "apt-get install -y postgresql");
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "gaia-pg-"));
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) =>
    asRoot
      ? spawn("runuser", ["-u", "postgres", "--", cmd, ...args], { stdio: "pipe" })
      : spawn(cmd, args, { stdio: "pipe" });
  if (asRoot) {
    await chmod(dir, 0o777);
  }
  const dataDir = join(dir, "data");
  await new Promise<void>((resolve, reject) => {
    const child = run(initdb, ["-D", dataDir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
    let err = "";
    child.stderr?.on("data", (d) => (err += d));
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`initdb failed: ${err}`))));
  });
  const child = run(postgres, [
    "-D",
    dataDir,
    "-p",
    String(port),
    "-h",
    "127.0.0.1",
    "-k",
    dir,
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
    "-c",
    "max_connections=300",
  ]);
  child.stdout?.resume();
  child.stderr?.resume();
  const adminUrl = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  await waitFor(
    async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.end();
      return true;
    },
    "postgres",
    30_000,
    child,
  );
  let template: Promise<string> | undefined;
  let n = 0;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  const stop = async () => {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  return {
    adminUrl,
    // Migrate one template once, then copy it: CREATE DATABASE ... TEMPLATE takes milliseconds.
    async createDatabase() {
      template ??= (async () => {
        await admin("CREATE DATABASE gaia_template");
        const url = `postgresql://postgres@127.0.0.1:${port}/gaia_template`;
        const { openDatabase } = await import("../../services/kit/src/db/client.ts");
        const { applyMigrations } = await import("../../services/kit/src/db/migrate.ts");
        const db = await openDatabase({ kind: "postgres", url });
        await applyMigrations(db.adapter);
        await db.close();
        return "gaia_template";
      })();
      const source = await template;
      const name = `gaia_test_${process.pid}_${++n}`;
      // A backend of the template's last client can linger for a moment after it disconnected.
      for (let attempt = 1; ; attempt++) {
        try {
          await admin(`CREATE DATABASE ${name} TEMPLATE ${source}`);
          break;
        } catch (error) {
          if (attempt >= 50 || !/being accessed by other users/.test(String(error))) throw error;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      return `postgresql://postgres@127.0.0.1:${port}/${name}`;
    },
    stop,
  };
}

let shared: Promise<Postgres> | undefined;
/** One PostgreSQL cluster per test run, shared by every suite; stopped when the run ends. */
export function sharedPostgres(): Promise<Postgres> {
  shared ??= startPostgres().then((server) => {
    registerCleanup(server.stop, true);
    return server;
  });
  return shared;
}

const cleanups: { fn: () => Promise<void>; last: boolean }[] = [];
/** Run `fn` when the test run ends (after every suite), e.g. to remove a temporary folder. */
export function registerCleanup(fn: () => Promise<void>, last = false) {
  cleanups.push({ fn, last });
}

/** Stops every server this run started; mocha calls it once at the end (test/support/hooks.ts). */
export async function stopAllServers(): Promise<void> {
  const ordered = [...cleanups.filter((c) => !c.last).reverse(), ...cleanups.filter((c) => c.last)];
  cleanups.length = 0;
  for (const { fn } of ordered) await fn().catch(() => {});
}
