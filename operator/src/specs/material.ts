import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";

/** Key material of the auth service's service-token signing key (ES256). */
export interface JwtMaterial {
  privateKeyPem: string;
  keyId: string;
}

/**
 * A fresh ES256 (P-256) key in PKCS#8 PEM. The key id is the RFC 7638 JWK thumbprint, so every service that
 * fetches auth's JWKS sees the same kid the token header carries.
 */
export function newJwtMaterial(): JwtMaterial {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = publicKey.export({ format: "jwk" });
  const thumbprintInput = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    keyId: createHash("sha256").update(thumbprintInput).digest("base64url"),
  };
}

/** A datastore password: 192 random bits in base64url, safe inside a connection URL without escaping. */
export function newPassword(): string {
  return randomBytes(24).toString("base64url");
}

/** The gateway-to-auth shared secret: 256 random bits in base64url (43 characters; auth wants at least 32). */
export function newInternalToken(): string {
  return randomBytes(32).toString("base64url");
}
