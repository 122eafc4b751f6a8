import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
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
import { applyRoles, roleUrl } from "../../services/kit/src/db/roles.ts";
import type { BackendName } from "../../services/kit/src/registry.ts";

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
  /** A new migrated database; its URL is the owner's (the migration Job's), see `asService` for a service's. */
  createDatabase(): Promise<string>;
  /** The owner's URL for the database of any URL of this server (a test that needs to set up what no service may). */
  ownerOf(databaseUrl: string): string;
  /** Take the server away (its data stays), as an outage would. */
  stop(): Promise<void>;
  /** Bring it back on the same port after `stop`. */
  start(): Promise<void>;
}

const PG_DIRS = ["/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"];

/**
 * A PostgreSQL cluster from the installed binaries; as root, it runs as the `postgres` user (initdb refuses root).
 * Most suites share one (sharedPostgres); a suite that stops PostgreSQL starts its own.
 */
export async function startPostgres(): Promise<Postgres> {
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
  const superuserPassword = randomBytes(18).toString("base64url");
  const pwfile = join(dir, "pwfile");
  await writeFile(pwfile, `${superuserPassword}\n`, { mode: 0o644 });
  await new Promise<void>((resolve, reject) => {
    // Passwords are checked, as in production: a role is only as good as the password it needs.
    const child = run(initdb, [
      "-D",
      dataDir,
      "-U",
      "postgres",
      "--auth=scram-sha-256",
      `--pwfile=${pwfile}`,
      "--no-sync",
      "-E",
      "UTF8",
    ]);
    let err = "";
    child.stderr?.on("data", (d) => (err += d));
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`initdb failed: ${err}`))));
  });
  const launch = () =>
    run(postgres, [
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
  const adminUrl = `postgresql://postgres:${superuserPassword}@127.0.0.1:${port}/postgres`;
  const ownerUrl = (database: string) => adminUrl.replace(/\/postgres$/, `/${database}`);
  let child: ChildProcess | undefined;
  const start = async () => {
    const started = launch();
    child = started;
    started.stdout?.resume();
    started.stderr?.resume();
    await waitFor(
      async () => {
        const c = new pg.Client({ connectionString: adminUrl });
        await c.connect();
        await c.end();
        return true;
      },
      "postgres",
      30_000,
      started,
    );
  };
  await start();
  /**
   * PostgreSQL's fast shutdown (SIGINT) ends the sessions still open, as an outage would; SIGTERM would wait for
   * their clients to leave. runuser passes SIGTERM on but not SIGINT, so the server itself is signalled.
   */
  const stop = async () => {
    const pid = Number(
      (await readFile(join(dataDir, "postmaster.pid"), "utf8").catch(() => "")).split("\n")[0],
    );
    if (pid > 0) {
      try {
        process.kill(pid, "SIGINT");
      } catch {}
    }
    await stopChild(child);
  };
  registerCleanup(async () => {
    await stop();
    await rm(dir, { recursive: true, force: true });
  }, true);
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
  return {
    adminUrl,
    ownerOf: (databaseUrl) => ownerUrl(new URL(databaseUrl).pathname.slice(1)),
    // Migrate one template once, then copy it: CREATE DATABASE ... TEMPLATE takes milliseconds.
    async createDatabase() {
      template ??= (async () => {
        await admin("CREATE DATABASE gaia_template");
        const url = ownerUrl("gaia_template");
        const { openDatabase } = await import("../../services/kit/src/db/client.ts");
        const { applyMigrations } = await import("../../services/kit/src/db/migrate.ts");
        const db = await openDatabase({ kind: "postgres", url });
        await applyMigrations(db.adapter);
        // The services' roles and grants, as the migration Job makes them; copies of the template keep the grants.
        await applyRoles(async (statements) => {
          for (const sql of statements) await db.prisma.$executeRawUnsafe(sql);
        }, ROLE_PASSWORDS);
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
      return ownerUrl(name);
    },
    stop,
    start,
  };
}

let shared: Promise<Postgres> | undefined;
/** Run SQL as the owner of the shared cluster's database behind `databaseUrl`: set-up that no service role may do. */
export async function queryAsOwner<T = Record<string, unknown>>(
  databaseUrl: string,
  sql: string,
): Promise<T[]> {
  const owner = new pg.Client({ connectionString: (await sharedPostgres()).ownerOf(databaseUrl) });
  await owner.connect();
  try {
    return (await owner.query(sql)).rows as T[];
  } finally {
    await owner.end();
  }
}

/** The services' database passwords for this run (roles are cluster-wide). */
const ROLE_PASSWORDS: Record<BackendName, string> = Object.fromEntries(
  (["auth", "asset", "chat", "kb"] as const).map((service) => [
    service,
    randomBytes(18).toString("base64url"),
  ]),
) as Record<BackendName, string>;

/** The same database as `service`'s own role: what that service connects with in production. */
export function asService(databaseUrl: string, service: BackendName): string {
  return roleUrl(databaseUrl, service, ROLE_PASSWORDS[service]);
}

/** One PostgreSQL cluster per test run, shared by every suite; stopped when the run ends. */
export function sharedPostgres(): Promise<Postgres> {
  shared ??= startPostgres();
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
