import type { Bus, Logger } from "@gaia/kit";
import type { Db } from "@gaia/kit/db/client";
import { type AuditEntry, insertAudit } from "./repo/audit.ts";

/** Actions recorded in the audit log and published as `gaia.<action>` on the bus. */
export const AUDIT = {
  registered: "auth.user.registered",
  externalUserCreated: "auth.user.created_external",
  loginSucceeded: "auth.login.succeeded",
  loginFailed: "auth.login.failed",
  refreshReused: "auth.refresh.reused",
  loggedOut: "auth.logout",
  keyCreated: "auth.key.created",
  keyRevoked: "auth.key.revoked",
  keyUpdated: "auth.key.updated",
  roleChanged: "auth.user.role_changed",
  userDisabled: "auth.user.disabled",
  userEnabled: "auth.user.enabled",
} as const;

export type Audit = (entry: AuditEntry) => Promise<void>;

/**
 * Write the row, then publish the event. The row is the record: a failed insert is logged, never swallowed
 * silently, and never fails the caller's request (a login must not depend on the audit table's health).
 * Entries carry ids, emails and reasons — never passwords, keys or tokens.
 */
export function auditTrail(db: Db, bus: Bus, log: Logger): Audit {
  return async (entry) => {
    try {
      await insertAudit(db, entry);
    } catch (error) {
      log.error({ err: error, action: entry.action }, "audit row not written");
    }
    await bus.publish(`gaia.${entry.action}`, {
      action: entry.action,
      actor_id: entry.actorId ?? null,
      subject_id: entry.subjectId ?? null,
      ip: entry.ip ?? null,
      details: entry.details ?? {},
      at: new Date().toISOString(),
    });
  };
}
