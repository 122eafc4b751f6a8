import { type Role, unprocessable } from "@gaia/kit";
import { type Db, Prisma } from "@gaia/kit/db/client";
import type { PathRule } from "./permissions.ts";
import type { ConflictSink } from "./storage/git-store.ts";

/** The KB's own PostgreSQL tables besides the documents: path rules, conflict records, sync state. */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: unknown): value is string => typeof value === "string" && UUID.test(value);

export interface StoredRule extends PathRule {
  id: string;
  createdAt: Date;
}

export interface Conflict {
  id: string;
  path: string;
  ours: string | null;
  theirs: string | null;
  oursAuthor: string | null;
  createdAt: Date;
  resolvedAt: Date | null;
  resolution: string | null;
}

export class KbStore implements ConflictSink {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** The stored rules that can concern this caller: their own and their role's. */
  rulesFor(userId: string, role: Role): Promise<StoredRule[]> {
    return this.#db.kbPathPermission.findMany({
      where: { OR: [...(isUuid(userId) ? [{ userId }] : []), { role }] },
    });
  }

  allRules(): Promise<StoredRule[]> {
    return this.#db.kbPathPermission.findMany({ orderBy: [{ pathPrefix: "asc" }, { createdAt: "asc" }] });
  }

  /** One rule per subject and prefix: granting again replaces the flags. */
  grant(rule: { userId?: string; role?: Role; pathPrefix: string; canRead: boolean; canWrite: boolean }) {
    const subject = rule.userId ? { userId: rule.userId, role: null } : { userId: null, role: rule.role! };
    const flags = { canRead: rule.canRead, canWrite: rule.canWrite };
    const where = rule.userId
      ? { userId_pathPrefix: { userId: rule.userId, pathPrefix: rule.pathPrefix } }
      : { role_pathPrefix: { role: rule.role!, pathPrefix: rule.pathPrefix } };
    return this.#db.kbPathPermission
      .upsert({ where, create: { ...subject, pathPrefix: rule.pathPrefix, ...flags }, update: flags })
      .catch((error) => {
        if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2003") {
          throw unprocessable("user_id: no user has this id");
        }
        throw error;
      });
  }

  async revoke(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const { count } = await this.#db.kbPathPermission.deleteMany({ where: { id } });
    return count > 0;
  }

  async record(conflict: { path: string; ours: string | null; theirs: string | null; oursAuthor?: string }) {
    await this.#db.kbConflict.create({ data: { ...conflict, oursAuthor: conflict.oursAuthor ?? null } });
  }

  openConflicts(): Promise<Conflict[]> {
    return this.#db.kbConflict.findMany({ where: { resolvedAt: null }, orderBy: { createdAt: "asc" } });
  }

  findConflict(id: string): Promise<Conflict | null> {
    return isUuid(id) ? this.#db.kbConflict.findUnique({ where: { id } }) : Promise.resolve(null);
  }

  /** Marks it resolved unless someone else did first; answers whether this call did. */
  async resolveConflict(id: string, by: string, resolution: string): Promise<boolean> {
    const { count } = await this.#db.kbConflict.updateMany({
      where: { id, resolvedAt: null },
      data: { resolvedAt: new Date(), resolvedBy: isUuid(by) ? by : null, resolution },
    });
    return count > 0;
  }

  async syncState(key: string): Promise<string | null> {
    return (await this.#db.kbSyncState.findUnique({ where: { key } }))?.value ?? null;
  }

  async setSyncState(key: string, value: string): Promise<void> {
    await this.#db.kbSyncState.upsert({ where: { key }, create: { key, value }, update: { value } });
  }
}
