import {
  credentialHash,
  effectivePermissions,
  forbidden,
  type Identity,
  ROLE_PERMISSIONS,
  type Role,
  unauthorized,
} from "@gaia/kit";
import type { Db } from "@gaia/kit/db/client";
import { looksLikeApiKey, sameDigest } from "./apikeys.ts";
import { AUDIT, type Audit } from "./audit.ts";
import { type CredentialCache, cacheSeconds } from "./credentials.ts";
import type { LastUsedBuffer } from "./lastused.ts";
import { findApiKeyByHash } from "./repo/apikeys.ts";
import { familyActive } from "./repo/refresh.ts";
import { findOrCreateExternalUser, findUserById } from "./repo/users.ts";
import type { SigningKeys } from "./signing.ts";
import type { SupabaseVerifier } from "./supabase.ts";
import { ACCESS_ISSUER, unverifiedIssuer, verifyAccessToken } from "./tokens.ts";

export type Credential = { apiKey: string } | { bearer: string };

export interface AuthenticatorDeps {
  db: Db;
  credentials: CredentialCache;
  keys: SigningKeys;
  supabase?: SupabaseVerifier;
  lastUsed: LastUsedBuffer;
  audit: Audit;
}

/** A credential proven good, and how long its identity may be cached (seconds). */
interface Resolved {
  identity: Identity;
  ttlSeconds: number;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const disabled = () => forbidden("This account is disabled", "account_disabled");

/**
 * A user signed in with a token: their role's permissions, cached no longer than the token lives. A Gaia session
 * is named, so that ending it can end the identity tokens issued for it.
 */
function signedIn(
  user: { id: string; email: string; role: Role },
  authType: "jwt" | "supabase",
  expiresAt: number,
  sessionId?: string,
): Resolved {
  return {
    identity: {
      userId: user.id,
      email: user.email,
      role: user.role,
      permissions: [...ROLE_PERMISSIONS[user.role]],
      authType,
      ...(sessionId ? { sessionId } : {}),
    },
    ttlSeconds: cacheSeconds(authType, nowSeconds(), expiresAt),
  };
}

/**
 * Credential → identity: an API key, a Gaia access token or a Supabase token. The shared cache answers first;
 * a miss goes to the database (so authentication keeps working, slower, while Redis is away) and fills the
 * cache for the gateway's fast path.
 */
export class Authenticator {
  readonly #deps: AuthenticatorDeps;

  constructor(deps: AuthenticatorDeps) {
    this.#deps = deps;
  }

  async authenticate(credential: Credential): Promise<Identity> {
    const raw = "apiKey" in credential ? credential.apiKey : credential.bearer;
    const hash = credentialHash(raw);
    const cached = await this.#deps.credentials.get(hash);
    if (cached) {
      if (cached.keyId) this.#deps.lastUsed.touch(cached.keyId);
      return cached;
    }
    const epoch = await this.#deps.credentials.epoch();
    const { identity, ttlSeconds } =
      "apiKey" in credential ? await this.#apiKey(raw, hash) : await this.#bearer(raw);
    await this.#deps.credentials.put(hash, identity, ttlSeconds, epoch);
    return identity;
  }

  async #apiKey(key: string, hash: string): Promise<Resolved> {
    if (!looksLikeApiKey(key)) throw unauthorized("Invalid API key", "invalid_api_key");
    const record = await findApiKeyByHash(this.#deps.db, hash);
    if (!record || !sameDigest(record.keyHash, hash))
      throw unauthorized("Invalid API key", "invalid_api_key");
    if (record.revokedAt) throw unauthorized("This API key has been revoked", "api_key_revoked");
    const expiresAt = record.expiresAt ? Math.floor(record.expiresAt.getTime() / 1000) : null;
    if (expiresAt !== null && expiresAt <= nowSeconds())
      throw unauthorized("This API key has expired", "api_key_expired");
    if (record.user.disabled) throw disabled();
    this.#deps.lastUsed.touch(record.id);
    return {
      identity: {
        userId: record.user.id,
        email: record.user.email,
        role: record.user.role,
        permissions: effectivePermissions(record.user.role, record.permissions),
        authType: "api_key",
        keyId: record.id,
      },
      ttlSeconds: cacheSeconds("api_key", nowSeconds(), expiresAt),
    };
  }

  /** Own tokens go to our pinned ES256 keys, anything else to Supabase's verifier (when configured). */
  async #bearer(token: string): Promise<Resolved> {
    if (unverifiedIssuer(token) === ACCESS_ISSUER) return this.#gaiaToken(token);
    if (this.#deps.supabase) return this.#supabaseToken(token, this.#deps.supabase);
    throw unauthorized("Invalid token", "invalid_token");
  }

  async #gaiaToken(token: string): Promise<Resolved> {
    const claims = await verifyAccessToken(this.#deps.keys, token);
    const [user, live] = await Promise.all([
      findUserById(this.#deps.db, claims.userId),
      familyActive(this.#deps.db, claims.sessionId),
    ]);
    if (!user) throw unauthorized("Invalid token", "invalid_token");
    if (user.disabled) throw disabled();
    if (!live) throw unauthorized("This session has ended", "session_ended");
    return signedIn(user, "jwt", claims.expiresAt, claims.sessionId);
  }

  async #supabaseToken(token: string, verify: SupabaseVerifier): Promise<Resolved> {
    const claims = await verify(token);
    const found = await findOrCreateExternalUser(this.#deps.db, {
      externalId: claims.externalId,
      // Phone sign-ins have no email; the column is required and unique, so the account gets a stand-in.
      email: claims.email ?? `${claims.externalId}@supabase.invalid`,
      role: claims.role,
    });
    if ("conflict" in found) {
      throw unauthorized("This email belongs to another Gaia account", "external_account_conflict");
    }
    const { user, created } = found;
    if (created) {
      await this.#deps.audit({
        action: AUDIT.externalUserCreated,
        actorId: user.id,
        subjectId: user.id,
        details: { provider: "supabase", email: user.email, role: user.role },
      });
    }
    if (user.disabled) throw disabled();
    return signedIn(user, "supabase", claims.expiresAt);
  }
}
