import type { Identity } from "@gaia/kit";

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
