import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Db } from "@gaia/kit/db/client";

/**
 * Refresh tokens: opaque, stored as SHA-256, rotated on every use. The tokens of one login share a family;
 * presenting a token that was already rotated means it was copied, so the whole family is revoked.
 */
export function hashRefreshToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

function newToken(): string {
  return randomBytes(32).toString("base64url");
}

export async function issueRefreshToken(
  db: Db,
  input: { userId: string; familyId?: string; ttlSeconds: number },
): Promise<{ token: string; familyId: string }> {
  const token = newToken();
  const familyId = input.familyId ?? randomUUID();
  await db.refreshToken.create({
    data: {
      userId: input.userId,
      tokenHash: hashRefreshToken(token),
      familyId,
      expiresAt: new Date(Date.now() + input.ttlSeconds * 1000),
    },
  });
  return { token, familyId };
}

export type Rotation =
  | { kind: "rotated"; userId: string; familyId: string; token: string }
  | { kind: "reused"; userId: string; familyId: string }
  | { kind: "invalid" };

/** Exchange a refresh token for its successor in the same family. */
export async function rotateRefreshToken(db: Db, token: string, ttlSeconds: number): Promise<Rotation> {
  const now = new Date();
  return db.$transaction(async (tx) => {
    const found = await tx.refreshToken.findUnique({ where: { tokenHash: hashRefreshToken(token) } });
    if (!found || found.revokedAt) return { kind: "invalid" };
    const family = { userId: found.userId, familyId: found.familyId };
    if (found.rotatedAt) return { kind: "reused", ...family };
    if (found.expiresAt <= now) return { kind: "invalid" };
    // Only one of two concurrent uses can flip rotatedAt; the other is a reuse.
    const { count } = await tx.refreshToken.updateMany({
      where: { id: found.id, rotatedAt: null, revokedAt: null },
      data: { rotatedAt: now },
    });
    if (count === 0) return { kind: "reused", ...family };
    const next = newToken();
    await tx.refreshToken.create({
      data: {
        userId: found.userId,
        tokenHash: hashRefreshToken(next),
        familyId: found.familyId,
        expiresAt: new Date(now.getTime() + ttlSeconds * 1000),
      },
    });
    return { kind: "rotated", ...family, token: next };
  });
}

export async function findRefreshFamily(
  db: Db,
  token: string,
): Promise<{ userId: string; familyId: string } | null> {
  const found = await db.refreshToken.findUnique({ where: { tokenHash: hashRefreshToken(token) } });
  return found ? { userId: found.userId, familyId: found.familyId } : null;
}

export async function revokeFamily(db: Db, familyId: string): Promise<void> {
  await db.refreshToken.updateMany({ where: { familyId, revokedAt: null }, data: { revokedAt: new Date() } });
}

export async function revokeAllFamiliesOf(db: Db, userId: string): Promise<void> {
  await db.refreshToken.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: new Date() } });
}

/** A session lives while any token of its family is unrevoked; logout and reuse revoke them all. */
export async function familyActive(db: Db, familyId: string): Promise<boolean> {
  const live = await db.refreshToken.findFirst({
    where: { familyId, revokedAt: null },
    select: { id: true },
  });
  return live !== null;
}
