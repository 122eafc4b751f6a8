import { conflict, type Identity, notFound, type Role } from "@gaia/kit";
import type { Db } from "@gaia/kit/db/client";
import { AUDIT, type Audit } from "./audit.ts";
import type { CredentialCache } from "./credentials.ts";
import { revokeAllFamiliesOf } from "./repo/refresh.ts";
import { findUserById, listUsers, type User, updateUser } from "./repo/users.ts";
import type { AnnounceRevocation } from "./revocations.ts";

export interface UserView {
  id: string;
  email: string;
  role: Role;
  disabled: boolean;
  external: boolean;
  created_at: string;
}

export function userView(user: User): UserView {
  return {
    id: user.id,
    email: user.email,
    role: user.role,
    disabled: user.disabled,
    external: user.externalId !== null,
    created_at: user.createdAt.toISOString(),
  };
}

export interface AdminDeps {
  db: Db;
  credentials: CredentialCache;
  announce: AnnounceRevocation;
  audit: Audit;
}

/**
 * What admins do to accounts. A change of role or status reaches every cached credential at once, and disabling
 * an account or changing its role ends the identity tokens issued before.
 */
export class UserAdmin {
  readonly #deps: AdminDeps;

  constructor(deps: AdminDeps) {
    this.#deps = deps;
  }

  async list(page: { limit: number; offset: number; email?: string }) {
    const { users, total } = await listUsers(this.#deps.db, page);
    return { users: users.map(userView), total, limit: page.limit, offset: page.offset };
  }

  async update(
    admin: Identity,
    id: string,
    change: { role?: Role; disabled?: boolean },
    ip: string,
  ): Promise<UserView> {
    const { db, credentials, announce, audit } = this.#deps;
    // An admin who demotes or disables themselves may leave nobody able to undo it.
    if (id === admin.userId && ((change.role && change.role !== "admin") || change.disabled)) {
      throw conflict("You cannot demote or disable your own account");
    }
    const before = await findUserById(db, id);
    if (!before) throw notFound("No such user");
    const after = await updateUser(db, id, change);
    if (!after) throw notFound("No such user");
    const roleChanged = before.role !== after.role;
    const statusChanged = before.disabled !== after.disabled;
    if (after.disabled && statusChanged) await revokeAllFamiliesOf(db, id);
    if (roleChanged || statusChanged) await credentials.forgetUser(id);
    // A disabled account loses every token; a new role only those carrying another (see kit revocation.ts).
    if (after.disabled && statusChanged) await announce({ userId: id });
    else if (roleChanged) await announce({ userId: id, role: after.role });
    if (roleChanged) {
      await audit({
        action: AUDIT.roleChanged,
        actorId: admin.userId,
        subjectId: id,
        ip,
        details: { from: before.role, to: after.role },
      });
    }
    if (statusChanged) {
      await audit({
        action: after.disabled ? AUDIT.userDisabled : AUDIT.userEnabled,
        actorId: admin.userId,
        subjectId: id,
        ip,
      });
    }
    return userView(after);
  }
}
