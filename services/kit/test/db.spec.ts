import assert from "node:assert/strict";
import { appendFile, cp, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { sharedPostgres } from "../../../test/support/servers.ts";
import { type Database, openDatabase } from "../src/db/client.ts";
import { applyMigrations, MIGRATIONS_DIR, migrationDirName, migrationStatus } from "../src/db/migrate.ts";

const COLUMNS = `
  SELECT table_name, column_name, data_type, is_nullable, column_default
  FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name`;
const INDEXES = `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`;

type Row = Record<string, unknown>;

/** The schema engine's process-wide instance (migrate.ts); replaced here by one that refuses to start. */
const ENGINE = Symbol.for("gaia.schema-engine");

async function withoutSchemaEngine<T>(run: () => Promise<T>): Promise<T> {
  const processWide = globalThis as Record<symbol, unknown>;
  const real = processWide[ENGINE];
  processWide[ENGINE] = Promise.resolve({
    SchemaEngine: {
      new: () => Promise.reject(new Error("the schema engine was started")),
    },
  });
  try {
    return await run();
  } finally {
    processWide[ENGINE] = real;
  }
}

async function roundTrip(db: Database) {
  const user = await db.prisma.user.create({
    data: { email: `u${Date.now()}@example.com`, role: "developer" },
  });
  const conversation = await db.prisma.conversation.create({
    data: {
      userId: user.id,
      title: "Arden",
      messages: { create: [{ role: "user", content: "hi", promptTokens: 3 }] },
    },
    include: { messages: true },
  });
  assert.equal(conversation.messages[0]?.promptTokens, 3);
  const found = await db.prisma.user.findUnique({
    where: { email: user.email },
    include: { conversations: true },
  });
  assert.equal(found?.role, "developer");
  assert.equal(found?.conversations[0]?.title, "Arden");
  await assert.rejects(db.prisma.user.create({ data: { email: user.email } }), /Unique constraint/);
}

describe("database: migrations and the Prisma client", function () {
  this.timeout(60_000);
  let postgres: Database;
  let pglite: Database;
  let pgUrl: string;

  before(async () => {
    const server = await sharedPostgres();
    const admin = new pg.Client({ connectionString: server.adminUrl });
    await admin.connect();
    const name = `gaia_fresh_${process.pid}`;
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    pgUrl = server.adminUrl.replace(/\/postgres$/, `/${name}`);
    postgres = await openDatabase({ kind: "postgres", url: pgUrl });
    pglite = await openDatabase({ kind: "pglite", dataDir: "memory://" });
  });

  after(async () => {
    await postgres?.close();
    await pglite?.close();
  });

  it("reports every migration pending on a fresh database, then applies them once", async () => {
    for (const db of [postgres, pglite]) {
      const before = await migrationStatus(db.adapter);
      assert.ok(before.total >= 1);
      assert.deepEqual(before.pending.length, before.total);
      const { applied } = await applyMigrations(db.adapter);
      assert.equal(applied.length, before.total);
      // An up-to-date database is recognised without the schema engine: one that is started now fails the run.
      assert.deepEqual(
        (await withoutSchemaEngine(() => applyMigrations(db.adapter))).applied,
        [],
        "a second run applies nothing",
      );
      assert.equal((await migrationStatus(db.adapter)).upToDate, true);
    }
  });

  it("re-applies nothing but notices an edited migration", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gaia-mig-"));
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    const [first] = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory());
    await appendFile(join(dir, first!.name, "migration.sql"), "\n-- edited after it was applied\n");
    const status = await migrationStatus(pglite.adapter, dir);
    assert.deepEqual(status.edited, [first!.name]);
    assert.equal(status.upToDate, false);
    await rm(dir, { recursive: true, force: true });
  });

  it("produces the same tables, columns and indexes on PostgreSQL and PGlite", async () => {
    const onPostgres = async (sql: string) => {
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      try {
        return (await client.query(sql)).rows as Row[];
      } finally {
        await client.end();
      }
    };
    const onPglite = async (sql: string) => (await pglite.prisma.$queryRawUnsafe(sql)) as Row[];
    const columns = await onPostgres(COLUMNS);
    assert.ok(columns.some((c) => c.table_name === "api_keys" && c.column_name === "key_hash"));
    assert.deepEqual(await onPglite(COLUMNS), columns);
    const indexes = await onPostgres(INDEXES);
    assert.ok(indexes.some((i) => i.indexname === "api_keys_key_hash_key"));
    assert.deepEqual(await onPglite(INDEXES), indexes);
  });

  it("round-trips records through Prisma on both", async () => {
    await roundTrip(postgres);
    await roundTrip(pglite);
  });

  it("names migrations the way Prisma does", () => {
    assert.equal(
      migrationDirName("Add persona tags!", new Date("2026-11-25T10:20:30Z")),
      "20261125102030_add_persona_tags",
    );
    assert.throws(() => migrationDirName("  "), /needs a name/);
  });
});
