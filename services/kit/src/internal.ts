import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Headers that only platform services send each other. The gateway drops every `x-gaia-*` header a client
 * sends, so on a backend they can only have come from the gateway; those that grant something still carry proof.
 */

/** The secret shared by the gateway and auth (GAIA_INTERNAL_TOKEN). */
export const INTERNAL_TOKEN_HEADER = "x-gaia-internal-token";
/**
 * The client's address as the gateway worked it out (its own peer, or what a trusted proxy said). Auth limits
 * logins by it, so auth believes it only beside a valid internal token.
 */
export const CLIENT_ADDRESS_HEADER = "x-gaia-client-address";

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

/** Constant-time check of a presented internal token (hashing first makes the lengths equal). */
export function internalTokenMatcher(secret: string): (given: string | undefined) => boolean {
  const expected = digest(secret);
  return (given) => given !== undefined && timingSafeEqual(digest(given), expected);
}
