import { effectivePermissions, type Role } from "@gaia/kit";
import type { Db } from "@gaia/kit/db/client";
import { generateApiKey } from "./apikeys.ts";

export interface IssuedKey {
  userId: string;
  email: string;
  role: Role;
  keyId: string;
  key: string;
}

/**
 * Create (or find) a user by email and issue a new API key for it: the CLI's way in before anyone can log in.
 * The key is returned once and stored only as its hash.
 */
export async function issueKeyForEmail(db: Db, email: string, role: Role, name = "cli"): Promise<IssuedKey> {
  const normalized = email.trim().toLowerCase();
  const user = await db.user.upsert({
    where: { email: normalized },
    create: { email: normalized, role },
    update: { role },
  });
  const { key, prefix, hash } = generateApiKey();
  const record = await db.apiKey.create({
    data: { userId: user.id, keyHash: hash, prefix, name, permissions: effectivePermissions(role) },
  });
  return { userId: user.id, email: user.email, role, keyId: record.id, key };
}
