import type { Db } from "@gaia/kit/db/client";

export interface AuditEntry {
  /** Dotted action, e.g. auth.login.succeeded. */
  action: string;
  actorId?: string | null;
  subjectId?: string | null;
  ip?: string | null;
  details?: Record<string, string | number | boolean | null | string[]>;
}

export async function insertAudit(db: Db, entry: AuditEntry): Promise<void> {
  await db.auditLog.create({
    data: {
      action: entry.action,
      actorId: entry.actorId ?? null,
      subjectId: entry.subjectId ?? null,
      ip: entry.ip ?? null,
      details: entry.details ?? {},
    },
  });
}
