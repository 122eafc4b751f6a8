import type { Identity } from "@gaia/kit";

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
