import { createHash, timingSafeEqual } from "node:crypto";
import { join } from "node:path";

/**
 * Headers that only platform services send each other. The gateway drops every `x-gaia-*` header a client
 * sends, so on a backend they can only have come from the gateway; those that grant something still carry proof.
 */

/** The shared secret (GAIA_INTERNAL_TOKEN) the gateway presents on every one of auth's /internal endpoints. */
export const INTERNAL_TOKEN_HEADER = "x-gaia-internal-token";
/** The `code` of auth's 401 to a missing or wrong internal token, which the gateway must not take for a bad credential. */
export const INTERNAL_TOKEN_REFUSED = "internal_token_refused";
/** Where auth keeps the internal token it generates when GAIA_INTERNAL_TOKEN is unset (development, one data dir). */
export const internalTokenFile = (dataDir: string) => join(dataDir, "keys", "internal-token");
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
