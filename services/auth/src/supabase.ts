import { isRole, type Role, unauthorized } from "@gaia/kit";
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyOptions,
  jwtVerify,
} from "jose";

/**
 * Supabase compatibility: a project's access tokens are accepted when auth is told how to verify them —
 * SUPABASE_JWT_SECRET (HS256, the legacy shared secret) and/or SUPABASE_JWKS_URL (the project's asymmetric
 * keys). Each path is pinned to its own algorithms, so an HS256 token never reaches the public keys and an
 * asymmetric one never reaches the shared secret.
 */
export interface SupabaseSettings {
  secret?: string;
  jwksUrl?: string;
  issuer?: string;
  audience: string;
}

export interface SupabaseClaims {
  /** Supabase's user id (`sub`), kept as User.externalId. */
  externalId: string;
  email?: string;
  /** The role to give the user when it is first seen. */
  role: Role;
  expiresAt: number;
}

const ASYMMETRIC = ["ES256", "RS256"];

/** Supabase's own `authenticated` means an ordinary signed-in user; Gaia role names map to themselves. */
function gaiaRole(value: unknown): Role | undefined {
  if (isRole(value)) return value;
  if (value === "authenticated") return "user";
  return undefined;
}

/**
 * The first claim that names a role wins: `app_metadata.role` (only the project's service role can set it),
 * then the custom-claims `user_role`, then the Postgres `role`. Anything unrecognised falls back to `user`:
 * the token proves a signed-in account, nothing more.
 */
export function mapSupabaseRole(payload: JWTPayload): Role {
  const appMetadata = payload.app_metadata as { role?: unknown } | undefined;
  const candidates = [appMetadata?.role, payload.user_role, payload.role];
  for (const candidate of candidates) {
    const role = gaiaRole(candidate);
    if (role) return role;
  }
  return "user";
}

export function mapSupabaseClaims(payload: JWTPayload): SupabaseClaims {
  if (typeof payload.sub !== "string" || payload.sub.length === 0 || typeof payload.exp !== "number") {
    throw unauthorized("Invalid token", "invalid_token");
  }
  const email =
    typeof payload.email === "string" && payload.email.includes("@")
      ? payload.email.trim().toLowerCase()
      : undefined;
  return { externalId: payload.sub, email, role: mapSupabaseRole(payload), expiresAt: payload.exp };
}

export type SupabaseVerifier = (token: string) => Promise<SupabaseClaims>;

/** undefined when Supabase is not configured: its tokens are then refused like any unknown issuer's. */
export function supabaseVerifier(settings: SupabaseSettings): SupabaseVerifier | undefined {
  if (!settings.secret && !settings.jwksUrl) return undefined;
  const secret = settings.secret ? new TextEncoder().encode(settings.secret) : undefined;
  const jwks = settings.jwksUrl
    ? createRemoteJWKSet(new URL(settings.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 })
    : undefined;
  const common: JWTVerifyOptions = {
    audience: settings.audience,
    issuer: settings.issuer,
    requiredClaims: ["sub", "exp"],
    clockTolerance: 5,
  };
  return async (token) => {
    try {
      const { alg } = decodeProtectedHeader(token);
      let payload: JWTPayload;
      if (alg === "HS256" && secret) {
        ({ payload } = await jwtVerify(token, secret, { ...common, algorithms: ["HS256"] }));
      } else if (jwks && alg && ASYMMETRIC.includes(alg)) {
        ({ payload } = await jwtVerify(token, jwks, { ...common, algorithms: ASYMMETRIC }));
      } else {
        throw unauthorized("Invalid token", "invalid_token");
      }
      return mapSupabaseClaims(payload);
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw unauthorized("Token has expired", "token_expired");
      throw unauthorized("Invalid token", "invalid_token");
    }
  };
}
