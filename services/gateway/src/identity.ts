import { type Identity, isAuthType, isPermission, isRole } from "@gaia/kit";

/** An identity read from the shared cache or from auth's answer: data from outside, taken only if well-formed. */
export function parseIdentity(value: unknown): Identity | undefined {
  const v = value as Partial<Identity> | null | undefined;
  if (!v || typeof v !== "object") return undefined;
  if (typeof v.userId !== "string" || !v.userId || !isRole(v.role)) return undefined;
  if (!Array.isArray(v.permissions) || !v.permissions.every(isPermission)) return undefined;
  if (!isAuthType(v.authType)) return undefined;
  return {
    userId: v.userId,
    ...(typeof v.email === "string" ? { email: v.email } : {}),
    role: v.role,
    permissions: [...v.permissions],
    authType: v.authType,
    ...(typeof v.keyId === "string" ? { keyId: v.keyId } : {}),
    ...(typeof v.sessionId === "string" ? { sessionId: v.sessionId } : {}),
  };
}

/**
 * Two credentials with the same identity share a service token. A session is part of it: a token minted for
 * one session dies when that session ends, and must not serve another.
 */
export function identityKey(identity: Identity): string {
  return [
    identity.userId,
    identity.role,
    identity.authType,
    identity.keyId ?? "",
    identity.sessionId ?? "",
    identity.email ?? "",
    [...identity.permissions].sort().join(","),
  ].join("|");
}
