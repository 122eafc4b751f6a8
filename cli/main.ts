import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { issueKeyForEmail } from "@gaia/auth/bootstrap";
import {
  ConfigError,
  createLogger,
  isRole,
  isServiceName,
  type MetricsListener,
  onShutdownSignal,
  openRuntime,
  platformConfig,
  type RunningService,
  type Runtime,
  type ServiceName,
  serveMetrics,
  serviceContext,
} from "@gaia/kit";
import { databaseTarget, describeTarget, openDatabase } from "@gaia/kit/db/client";
import { applyMigrations, createMigration, migrationStatus } from "@gaia/kit/db/migrate";
import { applyRoles, databaseRole, rolePasswords } from "@gaia/kit/db/roles";
import { MissingPasswords, NATS_PASSWORD_VARIABLES, natsAuthorizationBlock, redisAclFile } from "./grants.ts";
import { say, steps, warn } from "./output.ts";
import { AVAILABLE, SERVICES } from "./services.ts";

const USAGE = `gaia — the Gaia platform

  gaia dev                      run every service in one process on embedded defaults
  gaia serve NAME               run one service (${AVAILABLE.join(", ")})
  gaia db migrate               apply pending migrations (DATABASE_URL, else embedded PGlite)
  gaia db status                show which migrations are applied
  gaia db create NAME           write a migration for changes to prisma/schema.prisma
  gaia keys create --email E [--role admin|developer|user|guest] [--name N]
                                create the user if needed and print a new API key
  gaia grants redis|nats        print the per-service users for an external Redis (ACL file) or NATS
                                (authorization block), with no password in them
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "dev":
        return await dev();
      case "serve":
        return await serve(rest[0]);
      case "db":
        return await db(rest[0], rest[1]);
      case "keys":
        return await keys(rest);
      case "grants":
        return grants(rest[0]);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        say(USAGE);
        return command === undefined ? 2 : 0;
      default:
        warn(`gaia: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      warn(`gaia: configuration error: ${error.message}`);
      return 78;
    }
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      const port = (error as { port?: number }).port;
      warn(
        `gaia: port ${port} is already in use. Stop what runs there, or set GAIA_<SERVICE>_PORT to another port.`,
      );
      return 1;
    }
    warn(`gaia: ${(error as Error).stack ?? error}`);
    return 1;
  }
}

async function startServices(runtime: Runtime, names: ServiceName[]): Promise<RunningService[]> {
  const running: RunningService[] = [];
  try {
    for (const name of names) {
      const start = await SERVICES[name]!();
      running.push(await start(serviceContext(runtime, name)));
    }
    return running;
  } catch (error) {
    await stopAll(running, runtime);
    throw error;
  }
}

async function stopAll(running: RunningService[], runtime: Runtime, metrics?: MetricsListener) {
  for (const service of [...running].reverse()) await service.close();
  await metrics?.close();
  await runtime.close();
}

function describeDefaults(runtime: Runtime): string {
  const parts = [
    runtime.db.target.kind === "pglite" ? "embedded PGlite" : "PostgreSQL",
    runtime.cache.kind === "memory" ? "in-memory cache" : "Redis",
    runtime.bus.kind === "memory" ? "in-process bus" : "NATS",
  ];
  return parts.join(", ");
}

async function dev(): Promise<number> {
  const env = platformConfig();
  const log = createLogger("gaia", env.LOG_LEVEL === "info" ? "warn" : env.LOG_LEVEL);
  const step = steps(4);
  await mkdir(env.GAIA_DATA_DIR, { recursive: true, mode: 0o700 });
  const runtime = await step.run(`opening ${describeTarget(databaseTarget(env))}`, () =>
    openRuntime(env, log),
  );
  const { applied } = await step.run("applying migrations", () => applyMigrations(runtime.db.adapter));
  const adminKey = await step.run("preparing the first admin", () => ensureAdmin(runtime, env.GAIA_DATA_DIR));
  const running = await step.run(`starting ${AVAILABLE.join(", ")}`, () => startServices(runtime, AVAILABLE));
  const metrics = await serveMetrics(
    runtime.metrics,
    env.GAIA_METRICS_PORT,
    serviceContext(runtime, "gateway").host,
  );
  onShutdownSignal(() => stopAll(running, runtime, metrics), log);

  say(
    `\nGaia is running in ${step.elapsed()}s on ${describeDefaults(runtime)}${applied.length ? ` (${applied.length} migrations applied)` : ""}.`,
  );
  for (const service of running) say(`  ${service.name.padEnd(8)} ${service.url}`);
  say(`  ${"metrics".padEnd(8)} ${metrics.url} (Prometheus; not on the public port)`);
  say(describeBind(env.GAIA_BIND));
  if (await chatIsOffline(running)) {
    say(
      "\nChat answers with the offline echo model: set OPENAI_API_KEY or ANTHROPIC_API_KEY for real replies.",
    );
  }
  if (adminKey.created)
    say(`\nAdmin API key, shown once and saved to ${adminKey.path} (mode 0600):\n  ${adminKey.key}`);
  const gateway = running.find((s) => s.name === "gateway")?.url ?? "http://127.0.0.1:8666";
  say(`\nTry it:\n  curl -H "X-API-Key: $(cat ${adminKey.path})" ${gateway}/api/v1/auth/me`);
  say(
    `  curl -N -H "X-API-Key: $(cat ${adminKey.path})" -H 'content-type: application/json' -d '{"message":"hello","stream":true}' ${gateway}/api/v1/chat`,
  );
  say("Ctrl-C stops everything.");
  return new Promise<number>(() => {});
}

/** Who else can reach these URLs: only this machine by default, the network once GAIA_BIND opens it. */
function describeBind(address: string): string {
  if (address === "0.0.0.0" || address === "::")
    return `  (listening on every interface: GAIA_BIND=${address})`;
  if (address === "127.0.0.1" || address === "::1")
    return `  (listening on ${address} only; GAIA_BIND=0.0.0.0 listens on every interface)`;
  return `  (listening on ${address}: GAIA_BIND)`;
}

async function chatIsOffline(running: RunningService[]): Promise<boolean> {
  const chat = running.find((s) => s.name === "chat");
  if (!chat) return false;
  const health = (await fetch(`${chat.url}/health`).then(
    (r) => r.json(),
    () => ({}),
  )) as { offline?: boolean };
  return health.offline === true;
}

async function ensureAdmin(
  runtime: Runtime,
  dataDir: string,
): Promise<{ created: boolean; key?: string; path: string }> {
  const path = join(dataDir, "admin.key");
  const existing = await readFile(path, "utf8").catch(() => null);
  if (existing) return { created: false, path };
  const issued = await issueKeyForEmail(runtime.db.prisma, "admin@gaia.local", "admin", "bootstrap");
  await writeFile(path, `${issued.key}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return { created: true, key: issued.key, path };
}

async function serve(name: string | undefined): Promise<number> {
  if (!name || !isServiceName(name) || !SERVICES[name]) {
    warn(`gaia serve: name one of ${AVAILABLE.join(", ")}`);
    return 2;
  }
  const env = platformConfig();
  const log = createLogger(`gaia-${name}`, env.LOG_LEVEL);
  const runtime = await openRuntime(env, log);
  // Embedded data belongs to this process alone, so it migrates itself; with PostgreSQL a Job does it.
  if (runtime.db.target.kind === "pglite") await applyMigrations(runtime.db.adapter);
  const running = await startServices(runtime, [name]);
  const metrics = await serveMetrics(
    runtime.metrics,
    env.GAIA_METRICS_PORT,
    serviceContext(runtime, name).host,
  );
  onShutdownSignal(() => stopAll(running, runtime, metrics), log);
  log.info({ url: running[0]!.url, metrics: metrics.url, bind: env.GAIA_BIND }, `${name} listening`);
  return new Promise<number>(() => {});
}

async function db(sub: string | undefined, name: string | undefined): Promise<number> {
  const env = platformConfig();
  // `create` only diffs two schemas; it needs no real database, so it never touches the data directory.
  const target = sub === "create" ? ({ kind: "pglite", dataDir: "memory://" } as const) : databaseTarget(env);
  const database = await openDatabase(target);
  try {
    switch (sub) {
      case "migrate": {
        const step = steps(1);
        const { applied } = await step.run(`applying migrations to ${describeTarget(target)}`, () =>
          applyMigrations(database.adapter),
        );
        say(
          applied.length
            ? `Applied ${applied.length}: ${applied.join(", ")}.`
            : "Nothing to apply: the database is up to date.",
        );
        const passwords = rolePasswords(process.env);
        if (target.kind === "postgres" && Object.keys(passwords).length > 0) {
          const granted = await applyRoles(
            (statements) =>
              database.prisma
                .$transaction(statements.map((sql) => database.prisma.$executeRawUnsafe(sql)))
                .then(() => {}),
            passwords,
          );
          say(`Roles ${granted.map(databaseRole).join(", ")}: each granted only its service's tables.`);
        }
        say("Next: `gaia db status` shows the history; `gaia dev` or `gaia serve NAME` runs the platform.");
        return 0;
      }
      case "status": {
        const status = await migrationStatus(database.adapter);
        say(
          `${describeTarget(target)}: ${status.total - status.pending.length} of ${status.total} migrations applied.`,
        );
        if (status.pending.length) say(`Pending: ${status.pending.join(", ")}. Run \`gaia db migrate\`.`);
        if (status.failed.length)
          say(
            `Failed: ${status.failed.join(", ")}. Fix the cause, then mark it rolled back and migrate again.`,
          );
        if (status.edited.length)
          say(`Edited after being applied: ${status.edited.join(", ")}. Restore the applied SQL.`);
        if (status.upToDate) say("Up to date.");
        return status.upToDate ? 0 : 1;
      }
      case "create": {
        if (!name) {
          warn("gaia db create: give the migration a name, e.g. `gaia db create add_persona_tags`");
          return 2;
        }
        const created = await createMigration(database.adapter, name);
        if (!created) say("prisma/schema.prisma has no changes since the last migration; nothing written.");
        else say(`Wrote ${created.path}/migration.sql. Review it, then run \`gaia db migrate\`.`);
        return 0;
      }
      default:
        warn("gaia db: use one of migrate, status, create NAME");
        return 2;
    }
  } finally {
    await database.close();
  }
}

/** The users an external datastore needs: the file on stdout, what to do with it on stderr. */
function grants(store: string | undefined): number {
  try {
    if (store === "redis") {
      process.stdout.write(redisAclFile(process.env));
      warn(
        "Wrote a Redis ACL file (each password as its SHA-256). Save it as the server's aclfile, restart Redis, then give each service its URL redis://<service>:<password>@host:6379 in external.serviceSecretRef.",
      );
      return 0;
    }
    if (store === "nats") {
      process.stdout.write(natsAuthorizationBlock());
      warn(
        `Wrote nats-server's authorization block. Put it in the server's configuration and start nats-server with ${NATS_PASSWORD_VARIABLES.join(", ")} in its environment, each set to its password in double quotes (nats-server parses a variable's value as configuration: export GAIA_NATS_PASSWORD_AUTH='"<password>"'); then give each service its URL nats://<service>:<password>@host:4222 in external.serviceSecretRef.`,
      );
      return 0;
    }
  } catch (error) {
    if (!(error instanceof MissingPasswords)) throw error;
    warn(`gaia grants ${store}: ${error.message}`);
    return 2;
  }
  warn(
    "gaia grants: name redis or nats (PostgreSQL: `gaia db migrate` with GAIA_DB_PASSWORD_<SERVICE> makes the roles)",
  );
  return 2;
}

async function keys(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      email: { type: "string" },
      role: { type: "string", default: "user" },
      name: { type: "string", default: "cli" },
    },
  });
  if (positionals[0] !== "create" || !values.email) {
    warn("gaia keys create --email E [--role admin|developer|user|guest] [--name N]");
    return 2;
  }
  if (!isRole(values.role)) {
    warn(`gaia keys: --role must be one of admin, developer, user, guest (got "${values.role}")`);
    return 2;
  }
  const env = platformConfig();
  const database = await openDatabase(databaseTarget(env));
  try {
    const issued = await issueKeyForEmail(database.prisma, values.email, values.role, values.name);
    process.stderr.write(
      `Created key "${values.name}" for ${issued.email} (${issued.role}). It is shown once:\n`,
    );
    say(issued.key);
    process.stderr.write("Use it as the X-API-Key header.\n");
    return 0;
  } finally {
    await database.close();
  }
}
