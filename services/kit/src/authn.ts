import { createHash, createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { type Identity, isAuthType, isPermission, isRole } from "./identity.ts";

/**
 * The shared cache of proven credentials: auth writes an entry when it has checked a credential, the gateway
 * reads it to skip asking auth again. Anyone who can write to the cache server could otherwise plant an admin
 * identity under the hash of a string of their choosing, so every entry is sealed with an HMAC under a key only
 * auth and the gateway hold (derived from their shared internal token). An entry that does not verify is not an
 * identity: readers ignore it and count it.
 *
 *   authn:<sha256 hex of the credential> → {"v":1,"identity":{...},"exp":<epoch s>,"mac":"<base64url>"}
 *
 * The MAC covers the credential hash (an entry cannot be moved to another credential) and the entry's expiry
 * (an entry copied aside and written back after a revocation stops verifying when its original lifetime ends,
 * at most the cache TTL later).
 */

export const AUTHN_PREFIX = "authn:";
export const authnKey = (hash: string) => AUTHN_PREFIX + hash;

/** SHA-256 of the credential string, hex: what the cache key and the stored API-key hash are made of. */
export function credentialHash(credential: string): string {
  return createHash("sha256").update(credential, "utf8").digest("hex");
}

/** An identity from outside this process (the cache, auth's answer), taken only if it has the Identity shape. */
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

/** The sealing key: HKDF-SHA256 of the internal token, so the token itself never keys two things. */
export function authnSealKey(internalToken: string): Buffer {
  return Buffer.from(hkdfSync("sha256", internalToken, "gaia", "authn-cache-v1", 32));
}

function mac(key: Buffer, hash: string, identity: Identity, exp: number): Buffer {
  // parseIdentity fixes the field order, so the same identity always serialises to the same bytes.
  return createHmac("sha256", key)
    .update(`v1\n${hash}\n${exp}\n${JSON.stringify(identity)}`)
    .digest();
}

/** The cache value for a proven credential, valid until `exp` (epoch seconds). */
export function sealIdentity(key: Buffer, hash: string, identity: Identity, exp: number): string {
  const clean = parseIdentity(identity);
  if (!clean) throw new Error("refusing to seal a malformed identity");
  return JSON.stringify({
    v: 1,
    identity: clean,
    exp,
    mac: mac(key, hash, clean, exp).toString("base64url"),
  });
}

export type Opened = { kind: "identity"; identity: Identity } | { kind: "missing" } | { kind: "forged" };

/**
 * Read a cache value for `hash`: the identity when the seal verifies and has not expired; `forged` when a value
 * is there but is not one auth wrote for this credential (or has outlived its seal); `missing` when there is none.
 */
export function openIdentity(
  key: Buffer,
  hash: string,
  raw: string | null,
  nowSeconds = Date.now() / 1000,
): Opened {
  if (raw === null) return { kind: "missing" };
  let entry: { v?: unknown; identity?: unknown; exp?: unknown; mac?: unknown };
  try {
    entry = JSON.parse(raw);
  } catch {
    return { kind: "forged" };
  }
  const identity = parseIdentity(entry?.identity);
  if (entry?.v !== 1 || !identity || typeof entry.exp !== "number" || typeof entry.mac !== "string")
    return { kind: "forged" };
  const given = Buffer.from(entry.mac, "base64url");
  const expected = mac(key, hash, identity, entry.exp);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { kind: "forged" };
  if (entry.exp <= nowSeconds) return { kind: "forged" };
  return { kind: "identity", identity };
}
