import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "./generated/client.ts";

export { Prisma } from "./generated/client.ts";
export type * from "./generated/models.ts";
export { PrismaClient };
export type Db = InstanceType<typeof PrismaClient>;

/** Where the data lives: PostgreSQL when DATABASE_URL is set, else PGlite (WASM Postgres) in this process. */
export type DatabaseTarget = { kind: "postgres"; url: string } | { kind: "pglite"; dataDir: string };

export function databaseTarget(env: { DATABASE_URL?: string; GAIA_DATA_DIR: string }): DatabaseTarget {
  return env.DATABASE_URL
    ? { kind: "postgres", url: env.DATABASE_URL }
    : { kind: "pglite", dataDir: join(env.GAIA_DATA_DIR, "data", "pg") };
}

export interface Database {
  target: DatabaseTarget;
  prisma: Db;
  /** The driver adapter, which the migration engine shares. */
  adapter: SqlMigrationAwareDriverAdapterFactory;
  close(): Promise<void>;
}

export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  if (target.kind === "postgres") {
    const adapter = new PrismaPg({ connectionString: target.url, max: 10, connectionTimeoutMillis: 5000 });
    const prisma = new PrismaClient({ adapter });
    return { target, prisma, adapter, close: () => prisma.$disconnect() };
  }
  if (!target.dataDir.startsWith("memory://")) await mkdir(target.dataDir, { recursive: true });
  const pglite = await PGlite.create({ dataDir: target.dataDir });
  const adapter = new PrismaPGlite(pglite);
  const prisma = new PrismaClient({ adapter });
  return {
    target,
    prisma,
    adapter,
    async close() {
      await prisma.$disconnect();
      await pglite.close();
    },
  };
}

/** The label for logs and `gaia db status`: never the URL itself, which may carry a password. */
export function describeTarget(target: DatabaseTarget): string {
  if (target.kind === "pglite") return `embedded PGlite at ${target.dataDir}`;
  const url = new URL(target.url);
  return `PostgreSQL at ${url.hostname}:${url.port || 5432}${url.pathname}`;
}
