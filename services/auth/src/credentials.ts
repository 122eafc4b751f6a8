import { createHash, randomUUID } from "node:crypto";
import {
  type AuthType,
  type Bus,
  type Cache,
  getJson,
  type Identity,
  isAuthType,
  isPermission,
  isRole,
  type Logger,
  setJson,
} from "@gaia/kit";

/**
 * The shared cache of validated credentials, which the gateway reads directly (its fast path):
 *
 *   authn:<sha256 hex of the credential>  → Identity JSON, TTL 600 s for keys, min(900 s, exp - now) for JWTs
 *   authn-user:<userId>                   → set of those hashes, so one user's entries can all be dropped
 *   authn-epoch                           → a random value replaced on every invalidation
 *
 * A validation that read the database just before an invalidation could write its (now stale) entry just
 * after the invalidation deleted everything. To close that window a writer notes the epoch before reading the
 * database and checks it again after writing; if it moved, it deletes what it wrote. Invalidation always
 * changes the database first, then the epoch, then deletes.
 */
export const AUTHN_PREFIX = "authn:";
export const USER_INDEX_PREFIX = "authn-user:";
export const EPOCH_KEY = "authn-epoch";
export const KEY_CACHE_SECONDS = 600;
export const JWT_CACHE_SECONDS = 900;
const INDEX_SECONDS = Math.max(KEY_CACHE_SECONDS, JWT_CACHE_SECONDS);
const EPOCH_SECONDS = 24 * 3600;
export const CREDENTIAL_REVOKED_SUBJECT = "gaia.auth.credential.revoked";

export function credentialHash(credential: string): string {
  return createHash("sha256").update(credential, "utf8").digest("hex");
}

/**
 * How long a validated credential may be cached: the kind's cap, never past the credential's own expiry
 * (epoch seconds). Zero means do not cache.
 */
export function cacheSeconds(authType: AuthType, nowSeconds: number, expiresAt?: number | null): number {
  const cap = authType === "api_key" ? KEY_CACHE_SECONDS : JWT_CACHE_SECONDS;
  if (expiresAt === undefined || expiresAt === null) return cap;
  return Math.max(0, Math.min(cap, Math.floor(expiresAt - nowSeconds)));
}

/** A cached entry is data from outside this process: take it only if it still has the Identity shape. */
export function asIdentity(value: unknown): Identity | null {
  const v = value as Partial<Identity> | null;
  if (!v || typeof v !== "object") return null;
  if (typeof v.userId !== "string" || !isRole(v.role) || !Array.isArray(v.permissions)) return null;
  if (!v.permissions.every(isPermission) || !isAuthType(v.authType)) return null;
  return {
    userId: v.userId,
    ...(typeof v.email === "string" ? { email: v.email } : {}),
    role: v.role,
    permissions: v.permissions,
    authType: v.authType,
    ...(typeof v.keyId === "string" ? { keyId: v.keyId } : {}),
    ...(typeof v.sessionId === "string" ? { sessionId: v.sessionId } : {}),
  };
}

export class CredentialCache {
  readonly #cache: Cache;
  readonly #bus: Bus;
  readonly #log: Logger;
  /** Invalidations made while the cache server was away, repeated once it is back (its data may survive). */
  readonly #pending = { hashes: new Set<string>(), users: new Set<string>() };

  constructor(cache: Cache, bus: Bus, log: Logger) {
    this.#cache = cache;
    this.#bus = bus;
    this.#log = log;
  }

  async get(hash: string): Promise<Identity | null> {
    return asIdentity(await getJson<unknown>(this.#cache, AUTHN_PREFIX + hash));
  }

  /** Read before consulting the database; hand the value to put(). */
  epoch(): Promise<string | null> {
    return this.#cache.get(EPOCH_KEY);
  }

  async put(hash: string, identity: Identity, ttlSeconds: number, epochBefore: string | null): Promise<void> {
    if (ttlSeconds <= 0) return;
    await this.#cache.addToSet(USER_INDEX_PREFIX + identity.userId, [hash], INDEX_SECONDS);
    await setJson(this.#cache, AUTHN_PREFIX + hash, identity, ttlSeconds);
    if ((await this.epoch()) !== epochBefore) {
      // An invalidation ran while this entry was being made; it may describe a credential that is now dead.
      await this.#cache.del(AUTHN_PREFIX + hash);
      await this.#announce([hash]);
    }
  }

  /** Drop cached credentials by hash, e.g. a revoked key. The database must already say they are dead. */
  async forget(hashes: string[]): Promise<void> {
    await this.#cache.set(EPOCH_KEY, randomUUID(), EPOCH_SECONDS);
    await this.#cache.del(...hashes.map((hash) => AUTHN_PREFIX + hash));
    if (!this.#cache.healthy()) for (const hash of hashes) this.#pending.hashes.add(hash);
    await this.#announce(hashes);
  }

  /** Drop every cached credential of a user (disabled, role changed, logged out everywhere). */
  async forgetUser(userId: string): Promise<void> {
    await this.#cache.set(EPOCH_KEY, randomUUID(), EPOCH_SECONDS);
    const index = USER_INDEX_PREFIX + userId;
    const hashes = await this.#cache.setMembers(index);
    await this.#cache.del(index, ...hashes.map((hash) => AUTHN_PREFIX + hash));
    if (!this.#cache.healthy()) this.#pending.users.add(userId);
    await this.#announce(hashes);
  }

  /** Repeat invalidations that could not reach the cache; called periodically. */
  async retryPending(): Promise<void> {
    if (!this.#cache.healthy() || (this.#pending.hashes.size === 0 && this.#pending.users.size === 0)) return;
    const hashes = [...this.#pending.hashes];
    const users = [...this.#pending.users];
    this.#pending.hashes.clear();
    this.#pending.users.clear();
    if (hashes.length) await this.forget(hashes);
    for (const user of users) await this.forgetUser(user);
    this.#log.info({ keys: hashes.length, users: users.length }, "invalidations repeated after cache outage");
  }

  /** Gateways keep local copies of identities; this tells them which to drop. */
  async #announce(hashes: string[]) {
    if (hashes.length === 0) return;
    await this.#bus.publish(CREDENTIAL_REVOKED_SUBJECT, { hashes });
    this.#log.debug({ count: hashes.length }, "cached credentials invalidated");
  }
}
