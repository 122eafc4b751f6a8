import { randomBytes, timingSafeEqual } from "node:crypto";
import { credentialHash } from "@gaia/kit";

/**
 * API keys look like `gaia_<prefix>_<secret>`. Only SHA-256 of the whole key is stored; the prefix is kept in
 * the clear so a user can tell keys apart in a list.
 */
export const KEY_PATTERN = /^gaia_([a-z0-9]{8})_([A-Za-z0-9_-]{32,64})$/;

export interface NewApiKey {
  key: string;
  prefix: string;
  hash: string;
}

export function generateApiKey(): NewApiKey {
  const prefix = randomBytes(6)
    .toString("base64url")
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "0")
    .slice(0, 8);
  const secret = randomBytes(32).toString("base64url");
  const key = `gaia_${prefix}_${secret}`;
  return { key, prefix, hash: hashApiKey(key) };
}

/** The stored hash of a key is the shared cache's credential hash: one function, so the two cannot drift. */
export const hashApiKey = credentialHash;

export function looksLikeApiKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}

/** Constant-time comparison of two hex digests of equal length. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && timingSafeEqual(x, y);
}
