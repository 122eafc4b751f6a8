import { forbidden, hasPermission, type Identity, notFound, type Permission, unprocessable } from "@gaia/kit";
import type { Db } from "@gaia/kit/db/client";
import { AUDIT, type Audit } from "./audit.ts";
import type { CredentialCache } from "./credentials.ts";
import type { LastUsedBuffer } from "./lastused.ts";
import {
  type ApiKey,
  createApiKey,
  findApiKey,
  listApiKeys,
  revokeApiKey,
  updateApiKey,
} from "./repo/apikeys.ts";
import type { AnnounceRevocation } from "./revocations.ts";

export interface KeyView {
  id: string;
  prefix: string;
  name: string;
  permissions: string[];
  last_used_at: string | null;
  expires_at: string | null;
  /** This key's own monthly limit in dollars, within its owner's; null when only the owner's applies. */
  budget_usd: number | null;
  created_at: string;
}

export interface KeyDeps {
  db: Db;
  credentials: CredentialCache;
  announce: AnnounceRevocation;
  lastUsed: LastUsedBuffer;
  audit: Audit;
}

const iso = (date: Date | null | undefined) => date?.toISOString() ?? null;

/**
 * The permissions a new key gets: those asked for, or all the caller holds now. A caller can hand on only what
 * it holds itself — a key made with a narrowed key is at most as narrow — so a key never exceeds its owner.
 */
export function grantablePermissions(caller: Identity, requested?: Permission[]): Permission[] {
  if (!requested) return [...caller.permissions];
  const refused = requested.filter((p) => !hasPermission(caller, p));
  if (refused.length > 0)
    throw forbidden(`You cannot grant permissions you do not hold: ${refused.join(", ")}`);
  return [...new Set(requested)];
}

/** API keys as their owner manages them: create (the key shown once), list, revoke. */
export class KeyManager {
  readonly #deps: KeyDeps;

  constructor(deps: KeyDeps) {
    this.#deps = deps;
  }

  #view(record: ApiKey): KeyView {
    const buffered = this.#deps.lastUsed.pending(record.id);
    const lastUsed =
      buffered && (!record.lastUsedAt || buffered > record.lastUsedAt) ? buffered : record.lastUsedAt;
    return {
      id: record.id,
      prefix: record.prefix,
      name: record.name,
      permissions: record.permissions,
      last_used_at: iso(lastUsed),
      expires_at: iso(record.expiresAt),
      budget_usd: record.budgetUsd === null ? null : Number(record.budgetUsd),
      created_at: record.createdAt.toISOString(),
    };
  }

  async create(
    caller: Identity,
    input: { name: string; permissions?: Permission[]; expiresAt?: Date; budgetUsd?: number | null },
    ip: string,
  ): Promise<KeyView & { key: string }> {
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now())
      throw unprocessable("expires_at: must be in the future");
    const permissions = grantablePermissions(caller, input.permissions);
    const { record, key } = await createApiKey(this.#deps.db, {
      userId: caller.userId,
      name: input.name,
      permissions,
      expiresAt: input.expiresAt,
      budgetUsd: input.budgetUsd,
    });
    await this.#deps.audit({
      action: AUDIT.keyCreated,
      actorId: caller.userId,
      subjectId: record.id,
      ip,
      details: { name: record.name, prefix: record.prefix, permissions, budget_usd: input.budgetUsd ?? null },
    });
    return { ...this.#view(record), key };
  }

  async list(caller: Identity): Promise<KeyView[]> {
    return (await listApiKeys(this.#deps.db, caller.userId)).map((record) => this.#view(record));
  }

  /** A key's owner (or an admin) may rename it or change its budget; a revoked key is gone. */
  async update(
    caller: Identity,
    id: string,
    change: { name?: string; budgetUsd?: number | null },
    ip: string,
  ): Promise<KeyView> {
    const record = await this.#owned(caller, id);
    const updated = await updateApiKey(this.#deps.db, id, change);
    if (!updated) throw notFound("No such API key");
    await this.#deps.audit({
      action: AUDIT.keyUpdated,
      actorId: caller.userId,
      subjectId: record.id,
      ip,
      details: {
        owner: record.userId,
        prefix: record.prefix,
        ...(change.name !== undefined && { name: change.name }),
        ...(change.budgetUsd !== undefined && { budget_usd: change.budgetUsd }),
      },
    });
    return this.#view(updated);
  }

  /** The key, when the caller owns it or is an admin; anyone else learns nothing, not even that it exists. */
  async #owned(caller: Identity, id: string): Promise<ApiKey> {
    const record = await findApiKey(this.#deps.db, id);
    const allowed = record && (record.userId === caller.userId || hasPermission(caller, "admin:all"));
    if (!record || !allowed) throw notFound("No such API key");
    return record;
  }

  /**
   * The owner may revoke a key, and so may an admin; the key stops working at once, cache or not, and so do the
   * identity tokens issued for it. Revoking again announces again (after a bus outage, say).
   */
  async revoke(caller: Identity, id: string, ip: string): Promise<void> {
    const record = await this.#owned(caller, id);
    const revokedNow = await revokeApiKey(this.#deps.db, id);
    await this.#deps.credentials.forget([record.keyHash]);
    await this.#deps.announce({ userId: record.userId, keyId: record.id });
    if (revokedNow) {
      await this.#deps.audit({
        action: AUDIT.keyRevoked,
        actorId: caller.userId,
        subjectId: record.id,
        ip,
        details: { owner: record.userId, prefix: record.prefix },
      });
    }
  }
}
