import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlMigrationAwareDriverAdapterFactory,
} from "@prisma/driver-adapter-utils";
import type { MigrationList, SchemaEngine } from "@prisma/schema-engine-wasm/schema_engine_bg";

/**
 * Migrations through Prisma's official WebAssembly schema engine, which needs no native binary. It keeps
 * Prisma's own `_prisma_migrations` table and directory layout, so `prisma migrate deploy` stays compatible.
 */

const here = fileURLToPath(new URL(".", import.meta.url));
export const PRISMA_DIR = resolve(here, "../../../../prisma");
export const MIGRATIONS_DIR = join(PRISMA_DIR, "migrations");
export const SCHEMA_PATH = join(PRISMA_DIR, "schema.prisma");
const LOCKFILE = "migration_lock.toml";
const SNAPSHOT = "schema.snapshot.prisma";
const NO_FILTER = { externalTables: [], externalEnums: [] };

// WebAssembly is a Node global, but not in the ES library typings this project compiles against.
declare const WebAssembly: {
  instantiate(
    bytes: Uint8Array,
    imports: Record<string, unknown>,
  ): Promise<{ instance: { exports: Record<string, unknown> } }>;
};

type EngineBindings = typeof import("@prisma/schema-engine-wasm/schema_engine_bg");
/**
 * The bindings module is one per process, but this file may be loaded twice (once as ESM, once through a
 * CommonJS loader); a second instantiation would swap the wasm memory under the first. So the instance is
 * kept process-wide.
 */
const ENGINE = Symbol.for("gaia.schema-engine");
const processWide = globalThis as { [ENGINE]?: Promise<EngineBindings> };

/** The package targets bundlers (it imports its .wasm); in Node we instantiate the module ourselves. */
function loadEngineModule() {
  processWide[ENGINE] ??= (async () => {
    const bindings = await import("@prisma/schema-engine-wasm/schema_engine_bg");
    const wasmPath = createRequire(import.meta.url)
      .resolve("@prisma/schema-engine-wasm/schema_engine_bg")
      .replace(/\.js$/, ".wasm");
    const { instance } = await WebAssembly.instantiate(await readFile(wasmPath), {
      "./schema_engine_bg.js": bindings,
    });
    bindings.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return bindings;
  })();
  return processWide[ENGINE];
}

async function withEngine<T>(
  adapter: SqlMigrationAwareDriverAdapterFactory,
  schema: string,
  run: (engine: SchemaEngine) => Promise<T>,
) {
  const { SchemaEngine } = await loadEngineModule();
  const engine = await SchemaEngine.new(
    { datamodels: [["schema.prisma", schema]] },
    () => {},
    bindMigrationAwareSqlAdapterFactory(adapter),
  );
  try {
    return await run(engine);
  } finally {
    engine.free();
  }
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<MigrationList> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const migrationDirectories = await Promise.all(
    names.map(async (name) => {
      const content = await readFile(join(dir, name, "migration.sql"), "utf8").then(
        (value) => ({ tag: "ok" as const, value }),
        (error: Error) => ({ tag: "error" as const, value: error.message }),
      );
      return { path: name, migrationFile: { path: "migration.sql", content } };
    }),
  );
  const lock = await readFile(join(dir, LOCKFILE), "utf8").catch(() => null);
  return {
    baseDir: dir,
    lockfile: { path: LOCKFILE, content: lock },
    shadowDbInitScript: "",
    migrationDirectories,
  };
}

export interface MigrateResult {
  applied: string[];
}

/** Apply every migration not yet in the database, in order, each in its own transaction. */
export async function applyMigrations(
  adapter: SqlMigrationAwareDriverAdapterFactory,
  dir = MIGRATIONS_DIR,
): Promise<MigrateResult> {
  const migrationsList = await readMigrations(dir);
  // Loading the engine costs seconds; a database already holding every migration, unedited, needs none of it.
  if (await alreadyApplied(adapter, migrationsList)) return { applied: [] };
  const schema = await readFile(SCHEMA_PATH, "utf8");
  const output = await withEngine(adapter, schema, (engine) =>
    engine.applyMigrations({ migrationsList, filters: NO_FILTER }),
  );
  return { applied: output.appliedMigrationNames };
}

/** True when `_prisma_migrations` records each migration as finished, with the checksum Prisma gives its SQL. */
async function alreadyApplied(
  adapter: SqlMigrationAwareDriverAdapterFactory,
  list: MigrationList,
): Promise<boolean> {
  if (!(await hasMigrationsTable(adapter))) return false;
  const rows = await query(
    adapter,
    "SELECT migration_name, checksum FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL",
  );
  const applied = new Map(rows.map((row) => [String(row[0]), String(row[1])]));
  return list.migrationDirectories.every((d) => {
    const content = d.migrationFile.content;
    return (
      content.tag === "ok" && applied.get(d.path) === createHash("sha256").update(content.value).digest("hex")
    );
  });
}

export interface MigrationStatus {
  total: number;
  pending: string[];
  failed: string[];
  edited: string[];
  upToDate: boolean;
}

export async function migrationStatus(
  adapter: SqlMigrationAwareDriverAdapterFactory,
  dir = MIGRATIONS_DIR,
): Promise<MigrationStatus> {
  const schema = await readFile(SCHEMA_PATH, "utf8");
  const migrationsList = await readMigrations(dir);
  const all = migrationsList.migrationDirectories.map((d) => d.path);
  // The engine errors (instead of reporting) on a database that has never been migrated.
  if (!(await hasMigrationsTable(adapter))) {
    return { total: all.length, pending: all, failed: [], edited: [], upToDate: all.length === 0 };
  }
  const out = await withEngine(adapter, schema, (engine) =>
    engine.diagnoseMigrationHistory({ migrationsList, optInToShadowDatabase: false, filters: NO_FILTER }),
  );
  const history = out.history;
  const pending =
    history?.diagnostic === "databaseIsBehind" || history?.diagnostic === "historiesDiverge"
      ? history.unappliedMigrationNames
      : [];
  return {
    total: all.length,
    pending,
    failed: out.failedMigrationNames,
    edited: out.editedMigrationNames,
    upToDate:
      pending.length === 0 && out.failedMigrationNames.length === 0 && out.editedMigrationNames.length === 0,
  };
}

async function query(adapter: SqlMigrationAwareDriverAdapterFactory, sql: string) {
  const connection = await adapter.connect();
  try {
    return (await connection.queryRaw({ sql, args: [], argTypes: [] })).rows;
  } finally {
    await connection.dispose();
  }
}

async function hasMigrationsTable(adapter: SqlMigrationAwareDriverAdapterFactory): Promise<boolean> {
  const rows = await query(adapter, "SELECT to_regclass('_prisma_migrations') IS NOT NULL AS present");
  return rows[0]?.[0] === true;
}

/** Valid migration names: lower-case words joined by underscores, as Prisma writes them. */
export function migrationDirName(name: string, now = new Date()): string {
  const slug = name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  if (!slug)
    throw new Error("A migration needs a name of letters or digits, e.g. `gaia db create add_personas`");
  const stamp = now.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return `${stamp}_${slug}`;
}

/**
 * Write a new migration: the SQL that takes the snapshot schema to the current schema. Needs no database.
 * Answers null when the schema has not changed.
 */
export async function createMigration(
  adapter: SqlMigrationAwareDriverAdapterFactory,
  name: string,
  dir = MIGRATIONS_DIR,
): Promise<{ name: string; path: string } | null> {
  const schema = await readFile(SCHEMA_PATH, "utf8");
  // The schema as of the newest migration: diffing against it needs no shadow database.
  const snapshot = await readFile(join(dir, SNAPSHOT), "utf8").catch(() => null);
  const { stdout } = await withEngine(adapter, schema, (engine) =>
    engine.diff({
      from:
        snapshot === null
          ? { tag: "empty" }
          : { tag: "schemaDatamodel", files: [{ path: "snapshot.prisma", content: snapshot }] },
      to: { tag: "schemaDatamodel", files: [{ path: "schema.prisma", content: schema }] },
      script: true,
      exitCode: null,
      filters: NO_FILTER,
    }),
  );
  const sql = (stdout ?? "").trim();
  if (!sql || sql === "-- This is an empty migration.") return null;
  const dirName = migrationDirName(name);
  const path = join(dir, dirName);
  await mkdir(path, { recursive: true });
  await writeFile(join(path, "migration.sql"), `${sql}\n`);
  await writeFile(join(dir, SNAPSHOT), schema);
  await writeFile(
    join(dir, LOCKFILE),
    '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "postgresql"\n',
  );
  return { name: dirName, path };
}
