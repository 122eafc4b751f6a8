import { randomUUID } from "node:crypto";
import {
  claimsToIdentity,
  type Identity,
  isRole,
  type RevocationList,
  type Role,
  SERVICE_TOKEN_AUDIENCE,
  SERVICE_TOKEN_ISSUER,
  unauthorized,
} from "@gaia/kit";
import { decodeJwt, errors, type JWTPayload, jwtVerify, SignJWT } from "jose";
import { SIGNING_ALG, type SigningKeys } from "./signing.ts";

/**
 * Access tokens: ES256, `iss: gaia-auth`, `aud: gaia-api`, `typ: access` (and header typ at+jwt, RFC 9068).
 * Service identity tokens share the key but have `aud: gaia-services`: neither is accepted as the other.
 */
export const ACCESS_ISSUER = "gaia-auth";
export const ACCESS_AUDIENCE = "gaia-api";
export const ACCESS_TYP = "access";
const ACCESS_HEADER_TYP = "at+jwt";
const CLOCK_TOLERANCE_SECONDS = 5;

export interface AccessSubject {
  userId: string;
  email: string;
  role: Role;
  /** The refresh-token family of the login; ending the session (logout, reuse) ends its access tokens too. */
  sessionId: string;
}

export interface AccessClaims extends AccessSubject {
  /** Epoch seconds. */
  expiresAt: number;
}

export async function signAccessToken(
  keys: SigningKeys,
  subject: AccessSubject,
  ttlSeconds: number,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<{ token: string; expiresAt: number }> {
  const expiresAt = nowSeconds + ttlSeconds;
  const token = await new SignJWT({
    email: subject.email,
    role: subject.role,
    typ: ACCESS_TYP,
    sid: subject.sessionId,
  })
    .setProtectedHeader({ alg: SIGNING_ALG, kid: keys.kid, typ: ACCESS_HEADER_TYP })
    .setSubject(subject.userId)
    .setIssuer(ACCESS_ISSUER)
    .setAudience(ACCESS_AUDIENCE)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(expiresAt)
    .setJti(randomUUID())
    .sign(keys.privateKey);
  return { token, expiresAt };
}

/** The one message a client sees for a token we refuse, except for plain expiry. */
function rejected(error: unknown): Error {
  if (error instanceof errors.JWTExpired) return unauthorized("Token has expired", "token_expired");
  return unauthorized("Invalid token", "invalid_token");
}

export async function verifyAccessToken(
  keys: SigningKeys,
  token: string,
  currentDate?: Date,
): Promise<AccessClaims> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, (header) => keys.resolve(header), {
      algorithms: [SIGNING_ALG],
      issuer: ACCESS_ISSUER,
      audience: ACCESS_AUDIENCE,
      typ: ACCESS_HEADER_TYP,
      requiredClaims: ["sub", "exp", "iat"],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate,
    }));
  } catch (error) {
    throw rejected(error);
  }
  const { sub, email, role, typ, sid, exp } = payload;
  if (typ !== ACCESS_TYP || typeof sub !== "string" || typeof sid !== "string" || !isRole(role)) {
    throw unauthorized("Invalid token", "invalid_token");
  }
  return {
    userId: sub,
    email: typeof email === "string" ? email : "",
    role,
    sessionId: sid,
    expiresAt: exp as number,
  };
}

/**
 * Verify an X-Gaia-Identity with auth's own keys: auth is the issuer, so it needs no round trip to its own
 * JWKS. Same rules as every other service's verifier (kit's identityVerifier, revocations included), plus the
 * kid pin.
 */
export function localIdentityVerifier(keys: SigningKeys, revocations?: RevocationList) {
  return async (token: string): Promise<Identity> => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (header) => keys.resolve(header), {
        algorithms: [SIGNING_ALG],
        issuer: SERVICE_TOKEN_ISSUER,
        audience: SERVICE_TOKEN_AUDIENCE,
        requiredClaims: ["sub", "exp", "iat"],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch {
      throw unauthorized("Identity token is invalid or expired");
    }
    const identity = claimsToIdentity(payload);
    revocations?.check(identity, payload.iat as number);
    return identity;
  };
}

/** The unverified issuer, only to pick which verifier (with its own pinned keys) gets the token. */
export function unverifiedIssuer(token: string): string | undefined {
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === "string" ? iss : undefined;
  } catch {
    throw unauthorized("Invalid token", "invalid_token");
  }
}

/** Epoch seconds at which a JWT we just signed expires. */
export function expiryOf(token: string): number {
  return decodeJwt(token).exp as number;
}
