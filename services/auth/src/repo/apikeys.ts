import type { Permission } from "@gaia/kit";
import type { ApiKeyModel as ApiKey, Db, UserModel as User } from "@gaia/kit/db/client";
import { generateApiKey } from "../apikeys.ts";

/**
 * The one store of API keys, used by the routes and by the CLI's bootstrap alike. A key's secret leaves this
 * module once, in the answer to create; only its SHA-256 is written.
 */
export type { ApiKey };
export type KeyWithOwner = ApiKey & { user: Pick<User, "id" | "email" | "role" | "disabled"> };

export async function createApiKey(
  db: Db,
  input: {
    userId: string;
    name: string;
    permissions: Permission[];
    expiresAt?: Date | null;
    budgetUsd?: number | null;
  },
): Promise<{ record: ApiKey; key: string }> {
  const { key, prefix, hash } = generateApiKey();
  const record = await db.apiKey.create({
    data: {
      userId: input.userId,
      keyHash: hash,
      prefix,
      name: input.name,
      permissions: input.permissions,
      expiresAt: input.expiresAt ?? null,
      budgetUsd: input.budgetUsd ?? null,
    },
  });
  return { record, key };
}

export function findApiKeyByHash(db: Db, keyHash: string): Promise<KeyWithOwner | null> {
  return db.apiKey.findUnique({
    where: { keyHash },
    include: { user: { select: { id: true, email: true, role: true, disabled: true } } },
  });
}

/** A user's live keys (revoked ones are gone from the list; their rows stay for the audit trail). */
export function listApiKeys(db: Db, userId: string): Promise<ApiKey[]> {
  return db.apiKey.findMany({ where: { userId, revokedAt: null }, orderBy: { createdAt: "desc" } });
}

export function findApiKey(db: Db, id: string): Promise<ApiKey | null> {
  return db.apiKey.findUnique({ where: { id } });
}

/** Rename a live key or change its budget; null when it is gone or revoked. */
export async function updateApiKey(
  db: Db,
  id: string,
  change: { name?: string; budgetUsd?: number | null },
): Promise<ApiKey | null> {
  // One statement: the revokedAt condition and the write cannot be split by a concurrent revoke.
  const [updated] = await db.apiKey.updateManyAndReturn({ where: { id, revokedAt: null }, data: change });
  return updated ?? null;
}

/** Mark a key revoked; answers whether this call revoked it (false when it already was). */
export async function revokeApiKey(db: Db, id: string): Promise<boolean> {
  const { count } = await db.apiKey.updateMany({
    where: { id, revokedAt: null },
    data: { revokedAt: new Date() },
  });
  return count > 0;
}

/**
 * Write buffered last-used times in one statement. GREATEST keeps a later time written by another replica.
 */
export async function writeLastUsed(db: Db, entries: ReadonlyMap<string, Date>): Promise<void> {
  if (entries.size === 0) return;
  const ids = [...entries.keys()];
  const times = [...entries.values()].map((t) => t.toISOString());
  await db.$executeRaw`
    UPDATE api_keys AS k
       SET last_used_at = GREATEST(k.last_used_at, v.t)
      FROM unnest(${ids}::uuid[], ${times}::timestamptz[]) AS v(id, t)
     WHERE k.id = v.id`;
}
