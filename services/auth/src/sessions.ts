import { conflict, forbidden, type Identity, type Role, unauthorized } from "@gaia/kit";
import type { Db } from "@gaia/kit/db/client";
import { AUDIT, type Audit } from "./audit.ts";
import type { CredentialCache } from "./credentials.ts";
import { hashPassword, verifyPassword } from "./passwords.ts";
import type { LoginLimiter } from "./ratelimit.ts";
import {
  findRefreshFamily,
  issueRefreshToken,
  revokeAllFamiliesOf,
  revokeFamily,
  rotateRefreshToken,
} from "./repo/refresh.ts";
import { createUser, findUserByEmail, findUserById, normalizeEmail, type User } from "./repo/users.ts";
import type { AnnounceRevocation } from "./revocations.ts";
import type { SigningKeys } from "./signing.ts";
import { signAccessToken } from "./tokens.ts";

/** What login, refresh and register answer: Supabase's and OAuth2's shape. */
export interface TokenResponse {
  access_token: string;
  token_type: "bearer";
  expires_in: number;
  /** Epoch seconds, as Supabase sends it. */
  expires_at: number;
  refresh_token: string;
  user: { id: string; email: string; role: Role };
}

export interface SessionDeps {
  db: Db;
  keys: SigningKeys;
  limiter: LoginLimiter;
  credentials: CredentialCache;
  announce: AnnounceRevocation;
  audit: Audit;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
}

export interface PasswordCredentials {
  email: string;
  password: string;
}

/** Register, log in, refresh, log out: the password accounts and their sessions. */
export class Sessions {
  readonly #deps: SessionDeps;

  constructor(deps: SessionDeps) {
    this.#deps = deps;
  }

  /** A new session (new refresh family) unless the successor token of an existing one is given. */
  async #tokens(user: User, rotated?: { token: string; familyId: string }): Promise<TokenResponse> {
    const { db, keys, accessTokenTtlSeconds, refreshTokenTtlSeconds } = this.#deps;
    const refresh =
      rotated ?? (await issueRefreshToken(db, { userId: user.id, ttlSeconds: refreshTokenTtlSeconds }));
    const access = await signAccessToken(
      keys,
      { userId: user.id, email: user.email, role: user.role, sessionId: refresh.familyId },
      accessTokenTtlSeconds,
    );
    return {
      access_token: access.token,
      token_type: "bearer",
      expires_in: accessTokenTtlSeconds,
      expires_at: access.expiresAt,
      refresh_token: refresh.token,
      user: { id: user.id, email: user.email, role: user.role },
    };
  }

  async register(input: PasswordCredentials, ip: string): Promise<TokenResponse> {
    await this.#deps.limiter.registration(ip);
    const email = normalizeEmail(input.email);
    const user = await createUser(this.#deps.db, {
      email,
      passwordHash: await hashPassword(input.password),
      role: "user",
    });
    if (!user) throw conflict("An account with this email already exists");
    await this.#deps.audit({ action: AUDIT.registered, actorId: user.id, subjectId: user.id, ip });
    return this.#tokens(user);
  }

  async login(input: PasswordCredentials, ip: string): Promise<TokenResponse> {
    const email = normalizeEmail(input.email);
    const attempt = await this.#deps.limiter.attempt(email, ip);
    let user: User | null;
    let matches: boolean;
    try {
      user = await findUserByEmail(this.#deps.db, email);
      // Always one argon2 verification, against a dummy hash when there is no password to check.
      matches = await verifyPassword(user?.passwordHash, input.password);
    } catch (error) {
      await attempt.abandoned();
      throw error;
    }
    if (!user || !matches) {
      await attempt.failed();
      await this.#deps.audit({
        action: AUDIT.loginFailed,
        actorId: user?.id ?? null,
        ip,
        details: { email, reason: user ? "wrong_password" : "unknown_email" },
      });
      throw unauthorized("Invalid email or password", "invalid_credentials");
    }
    // The password was right: a disabled account is no reason to slow the next attempt.
    await attempt.succeeded();
    if (user.disabled) {
      await this.#deps.audit({
        action: AUDIT.loginFailed,
        actorId: user.id,
        ip,
        details: { email, reason: "disabled" },
      });
      throw forbidden("This account is disabled", "account_disabled");
    }
    await this.#deps.audit({ action: AUDIT.loginSucceeded, actorId: user.id, subjectId: user.id, ip });
    return this.#tokens(user);
  }

  async refresh(refreshToken: string, ip: string): Promise<TokenResponse> {
    const { db, refreshTokenTtlSeconds } = this.#deps;
    const rotation = await rotateRefreshToken(db, refreshToken, refreshTokenTtlSeconds);
    if (rotation.kind === "invalid") throw unauthorized("Invalid refresh token", "invalid_refresh_token");
    if (rotation.kind === "reused") {
      // A rotated token came back: someone holds a copy. End the whole session, for both holders.
      await revokeFamily(db, rotation.familyId);
      await this.#deps.credentials.forgetUser(rotation.userId);
      await this.#deps.announce({ userId: rotation.userId, sessionId: rotation.familyId });
      await this.#deps.audit({
        action: AUDIT.refreshReused,
        actorId: rotation.userId,
        subjectId: rotation.familyId,
        ip,
      });
      throw unauthorized("This refresh token was already used; the session has been ended", "refresh_reused");
    }
    const user = await findUserById(db, rotation.userId);
    if (!user) throw unauthorized("Invalid refresh token", "invalid_refresh_token");
    if (user.disabled) {
      await revokeFamily(db, rotation.familyId);
      throw forbidden("This account is disabled", "account_disabled");
    }
    return this.#tokens(user, rotation);
  }

  /**
   * With a refresh token, end that session; without one, end every session of the caller (Supabase's
   * default `global` scope). Cached access-token identities are dropped at once either way, and the identity
   * tokens of the ended sessions announced dead; the user's API keys are no session and keep working.
   */
  async logout(identity: Identity, refreshToken: string | undefined, ip: string): Promise<void> {
    const { db } = this.#deps;
    let scope: "session" | "global" = "global";
    if (refreshToken) {
      scope = "session";
      const family = await findRefreshFamily(db, refreshToken);
      if (family && family.userId === identity.userId) {
        await revokeFamily(db, family.familyId);
        await this.#deps.announce({ userId: identity.userId, sessionId: family.familyId });
      }
    } else {
      await revokeAllFamiliesOf(db, identity.userId);
      await this.#deps.announce({ userId: identity.userId, authType: "jwt" });
    }
    await this.#deps.credentials.forgetUser(identity.userId);
    await this.#deps.audit({
      action: AUDIT.loggedOut,
      actorId: identity.userId,
      subjectId: identity.userId,
      ip,
      details: { scope },
    });
  }
}
