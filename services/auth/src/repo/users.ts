import type { Role } from "@gaia/kit";
import { type Db, Prisma, type UserModel as User } from "@gaia/kit/db/client";

export type { User };

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002";
}

export function findUserByEmail(db: Db, email: string): Promise<User | null> {
  return db.user.findUnique({ where: { email: normalizeEmail(email) } });
}

export function findUserById(db: Db, id: string): Promise<User | null> {
  return db.user.findUnique({ where: { id } });
}

/** A new local account, or null when the email is taken. */
export async function createUser(
  db: Db,
  input: { email: string; passwordHash: string; role: Role },
): Promise<User | null> {
  try {
    return await db.user.create({ data: { ...input, email: normalizeEmail(input.email) } });
  } catch (error) {
    if (isUniqueViolation(error)) return null;
    throw error;
  }
}

export type ExternalUserResult = { user: User; created: boolean } | { conflict: true };

/**
 * The Gaia user behind an external (Supabase) account, created on first sight. An email that already belongs
 * to a different Gaia account is a conflict, never a silent merge: that would hand the local account to
 * whoever controls the external one.
 */
export async function findOrCreateExternalUser(
  db: Db,
  input: { externalId: string; email: string; role: Role },
): Promise<ExternalUserResult> {
  const existing = await db.user.findUnique({ where: { externalId: input.externalId } });
  if (existing) return { user: existing, created: false };
  try {
    const user = await db.user.create({
      data: { externalId: input.externalId, email: normalizeEmail(input.email), role: input.role },
    });
    return { user, created: true };
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    // Either a concurrent first sight of the same account won the race, or the email is someone else's.
    const raced = await db.user.findUnique({ where: { externalId: input.externalId } });
    return raced ? { user: raced, created: false } : { conflict: true };
  }
}

export async function listUsers(
  db: Db,
  page: { limit: number; offset: number; email?: string },
): Promise<{ users: User[]; total: number }> {
  const where = page.email ? { email: { contains: normalizeEmail(page.email) } } : {};
  const [users, total] = await Promise.all([
    db.user.findMany({
      where,
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      take: page.limit,
      skip: page.offset,
    }),
    db.user.count({ where }),
  ]);
  return { users, total };
}

export async function updateUser(
  db: Db,
  id: string,
  change: { role?: Role; disabled?: boolean },
): Promise<User | null> {
  try {
    return await db.user.update({ where: { id }, data: change });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2025") return null;
    throw error;
  }
}
