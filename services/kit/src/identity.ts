import type { RequestHandler } from "express";
import {
  type CryptoKey,
  createRemoteJWKSet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  type KeyObject,
  SignJWT,
} from "jose";
import { forbidden, unauthorized } from "./errors.ts";
import type { RevocationList } from "./revocation.ts";

/** RBAC (DESIGN §6): roles, permissions, and what each role holds. */
export const ROLES = ["admin", "developer", "user", "guest"] as const;
export type Role = (typeof ROLES)[number];
export const PERMISSIONS = ["kb:read", "kb:write", "chat:create", "asset:generate", "admin:all"] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: PERMISSIONS,
  developer: ["kb:read", "kb:write", "chat:create", "asset:generate"],
  user: ["kb:read", "chat:create", "asset:generate"],
  guest: ["kb:read", "chat:create"],
};

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

export function isPermission(value: unknown): value is Permission {
  return typeof value === "string" && (PERMISSIONS as readonly string[]).includes(value);
}

/**
 * What a credential may do: its role's permissions, narrowed to the ones a key was given. A key can carry
 * fewer permissions than its owner, never more.
 */
export function effectivePermissions(role: Role, requested?: readonly string[] | null): Permission[] {
  const held = ROLE_PERMISSIONS[role];
  if (!requested || requested.length === 0) return [...held];
  return held.filter((p) => requested.includes(p));
}

export function hasPermission(identity: Pick<Identity, "permissions">, permission: Permission): boolean {
  return identity.permissions.includes(permission) || identity.permissions.includes("admin:all");
}

export const AUTH_TYPES = ["api_key", "jwt", "supabase", "service"] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

export function isAuthType(value: unknown): value is AuthType {
  return typeof value === "string" && (AUTH_TYPES as readonly string[]).includes(value);
}

/** The caller, as the gateway vouches for it to a backend in X-Gaia-Identity. */
export interface Identity {
  userId: string;
  email?: string;
  role: Role;
  permissions: Permission[];
  authType: AuthType;
  keyId?: string;
  /** A Gaia password session (refresh-token family): ending it ends the identity tokens issued for it. */
  sessionId?: string;
}

export const IDENTITY_HEADER = "x-gaia-identity";
export const SERVICE_TOKEN_ISSUER = "gaia-auth";
export const SERVICE_TOKEN_AUDIENCE = "gaia-services";
export const SERVICE_TOKEN_TTL_SECONDS = 300;

export function identityToClaims(identity: Identity): JWTPayload {
  return {
    sub: identity.userId,
    email: identity.email,
    role: identity.role,
    perms: identity.permissions,
    auth: identity.authType,
    kid: identity.keyId,
    sid: identity.sessionId,
  };
}

export function claimsToIdentity(claims: JWTPayload): Identity {
  const role = claims.role;
  const perms = claims.perms;
  if (typeof claims.sub !== "string" || !isRole(role) || !Array.isArray(perms)) {
    throw unauthorized("Identity token is malformed");
  }
  return {
    userId: claims.sub,
    email: typeof claims.email === "string" ? claims.email : undefined,
    role,
    permissions: perms.filter(isPermission),
    authType: (claims.auth as AuthType) ?? "jwt",
    keyId: typeof claims.kid === "string" ? claims.kid : undefined,
    ...(typeof claims.sid === "string" ? { sessionId: claims.sid } : {}),
  };
}

/** A short-lived ES256 token carrying the caller (signed by auth only). */
export function signIdentity(
  identity: Identity,
  key: CryptoKey | KeyObject,
  kid: string,
  ttlSeconds = SERVICE_TOKEN_TTL_SECONDS,
): Promise<string> {
  return new SignJWT(identityToClaims(identity))
    .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
    .setIssuer(SERVICE_TOKEN_ISSUER)
    .setAudience(SERVICE_TOKEN_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(key);
}

export type IdentityVerifier = (token: string) => Promise<Identity>;

/** Auth's public keys from its JWKS, fetched once and again when an unknown kid appears. */
export function remoteKeys(jwksUrl: string): JWTVerifyGetKey {
  return createRemoteJWKSet(new URL(jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
}

/** Verify identity tokens against auth's keys, and refuse those a revocation ended (revocation.ts). */
export function identityVerifier(keys: JWTVerifyGetKey, revocations?: RevocationList): IdentityVerifier {
  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: SERVICE_TOKEN_ISSUER,
        audience: SERVICE_TOKEN_AUDIENCE,
        algorithms: ["ES256"],
        requiredClaims: ["sub", "exp", "iat"],
      }));
    } catch {
      throw unauthorized("Identity token is invalid or expired");
    }
    const identity = claimsToIdentity(payload);
    revocations?.check(identity, payload.iat as number);
    return identity;
  };
}

/** Verify identity tokens against auth's JWKS (see remoteKeys). */
export function remoteIdentityVerifier(jwksUrl: string, revocations?: RevocationList): IdentityVerifier {
  return identityVerifier(remoteKeys(jwksUrl), revocations);
}

/** A backend refuses any request without a valid identity from the gateway; res.locals.identity holds it. */
export function requireIdentity(verify: IdentityVerifier): RequestHandler {
  return async (req, res, next) => {
    const token = req.get(IDENTITY_HEADER);
    if (!token) return next(unauthorized("Missing service identity"));
    try {
      res.locals.identity = await verify(token);
      next();
    } catch (error) {
      next(error);
    }
  };
}

export function requirePermission(permission: Permission): RequestHandler {
  return (_req, res, next) => {
    const identity = res.locals.identity as Identity | undefined;
    if (!identity) return next(unauthorized());
    if (!hasPermission(identity, permission))
      return next(forbidden(`This needs the ${permission} permission`));
    next();
  };
}

export function identityOf(locals: Record<string, unknown>): Identity {
  const identity = locals.identity as Identity | undefined;
  if (!identity) throw unauthorized();
  return identity;
}
