import { type AuthType, type Identity, isPermission, isRole } from "@gaia/kit";

const AUTH_TYPES: readonly string[] = ["api_key", "jwt", "supabase", "service"] satisfies AuthType[];

/** An identity read from the shared cache or from auth's answer: data from outside, taken only if well-formed. */
export function parseIdentity(value: unknown): Identity | undefined {
  const v = value as Partial<Identity> | null | undefined;
  if (!v || typeof v !== "object") return undefined;
  if (typeof v.userId !== "string" || !v.userId || !isRole(v.role)) return undefined;
  if (!Array.isArray(v.permissions) || !v.permissions.every(isPermission)) return undefined;
  if (typeof v.authType !== "string" || !AUTH_TYPES.includes(v.authType)) return undefined;
  return {
    userId: v.userId,
    ...(typeof v.email === "string" ? { email: v.email } : {}),
    role: v.role,
    permissions: [...v.permissions],
    authType: v.authType,
    ...(typeof v.keyId === "string" ? { keyId: v.keyId } : {}),
  };
}

/** Two credentials with the same identity (a user's key and their JWT with equal rights) share a service token. */
export function identityKey(identity: Identity): string {
  return [
    identity.userId,
    identity.role,
    identity.authType,
    identity.keyId ?? "",
    identity.email ?? "",
    [...identity.permissions].sort().join(","),
  ].join("|");
}
