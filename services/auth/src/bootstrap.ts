import { effectivePermissions, type Role } from "@gaia/kit";
import type { Db } from "@gaia/kit/db/client";
import { AUDIT } from "./audit.ts";
import { createApiKey } from "./repo/apikeys.ts";
import { insertAudit } from "./repo/audit.ts";
import { normalizeEmail } from "./repo/users.ts";

export interface IssuedKey {
  userId: string;
  email: string;
  role: Role;
  keyId: string;
  key: string;
}

/**
 * Create (or find) a user by email and issue a new API key for it: the CLI's way in before anyone can log in.
 * The key is returned once and stored only as its hash, through the same key store the routes use. The CLI
 * runs beside (not inside) the auth service, so it has no cache to invalidate: use it to bootstrap accounts,
 * and the admin endpoints to change the role of a user who is already active.
 */
export async function issueKeyForEmail(db: Db, email: string, role: Role, name = "cli"): Promise<IssuedKey> {
  const normalized = normalizeEmail(email);
  const user = await db.user.upsert({
    where: { email: normalized },
    create: { email: normalized, role },
    update: { role },
  });
  const permissions = effectivePermissions(role);
  const { record, key } = await createApiKey(db, { userId: user.id, name, permissions });
  await insertAudit(db, {
    action: AUDIT.keyCreated,
    actorId: null,
    subjectId: record.id,
    details: { name, prefix: record.prefix, permissions, via: "cli", owner: user.id },
  });
  return { userId: user.id, email: user.email, role, keyId: record.id, key };
}
