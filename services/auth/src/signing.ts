import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError, internalTokenFile } from "@gaia/kit";
import { calculateJwkThumbprint, exportJWK, type JWK, type JWTHeaderParameters } from "jose";

/**
 * Auth's signing keys: the current ES256 key signs access and service tokens; a previous public key may
 * still verify tokens signed before a rotation. Every key is pinned to ES256 — a token naming another
 * algorithm, or a kid we do not hold, is refused before any signature check.
 */
export const SIGNING_ALG = "ES256";

export interface VerificationKey {
  kid: string;
  publicKey: KeyObject;
  jwk: JWK;
}

export interface SigningKeys {
  kid: string;
  privateKey: KeyObject;
  /** Current first, then the previous one when configured. */
  verification: VerificationKey[];
  /** The key a token header points at; throws for an unknown kid or any algorithm but ES256. */
  resolve(header: Pick<JWTHeaderParameters, "alg" | "kid">): KeyObject;
  jwks(): { keys: JWK[] };
}

export class KeyResolutionError extends Error {}

export interface KeySource {
  privateKeyPem?: string;
  keyId?: string;
  previousPublicKeyPem?: string;
  previousKeyId?: string;
}

async function verificationKey(
  variable: string,
  publicKey: KeyObject,
  kid?: string,
): Promise<VerificationKey> {
  if (publicKey.asymmetricKeyType !== "ec" || publicKey.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new ConfigError(`${variable}: must be an EC P-256 key (ES256)`);
  }
  const jwk = await exportJWK(publicKey);
  const id = kid ?? (await calculateJwkThumbprint(jwk));
  return { kid: id, publicKey, jwk: { ...jwk, kid: id, alg: SIGNING_ALG, use: "sig" } };
}

/** A key that does not parse stops start-up with the variable's name, never with the key's text. */
function parsed<T>(variable: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new ConfigError(`${variable}: ${(error as Error).message.split("\n")[0]} (value hidden)`);
  }
}

export async function signingKeys(source: KeySource, privateKeyPem: string): Promise<SigningKeys> {
  const privateKey = parsed("GAIA_JWT_PRIVATE_KEY", () => createPrivateKey(privateKeyPem));
  const own = await verificationKey("GAIA_JWT_PRIVATE_KEY", createPublicKey(privateKey), source.keyId);
  const verification = [own];
  const previousPem = source.previousPublicKeyPem;
  if (previousPem) {
    const publicKey = parsed("GAIA_JWT_PREVIOUS_PUBLIC_KEY", () => createPublicKey(previousPem));
    const previous = await verificationKey("GAIA_JWT_PREVIOUS_PUBLIC_KEY", publicKey, source.previousKeyId);
    if (previous.kid === own.kid) {
      throw new ConfigError("GAIA_JWT_PREVIOUS_KEY_ID: must differ from the current key's id");
    }
    verification.push(previous);
  }
  const byKid = new Map(verification.map((key) => [key.kid, key.publicKey]));
  return {
    kid: own.kid,
    privateKey,
    verification,
    resolve(header) {
      if (header.alg !== SIGNING_ALG) throw new KeyResolutionError(`Algorithm ${header.alg} is not accepted`);
      const key = header.kid ? byKid.get(header.kid) : undefined;
      if (!key) throw new KeyResolutionError("Unknown signing key");
      return key;
    },
    jwks: () => ({ keys: verification.map((key) => key.jwk) }),
  };
}

/**
 * Read a file holding a generated secret, or create it once (mode 0600). Two processes racing on a fresh data
 * directory agree: the loser of the exclusive create reads the winner's file.
 */
export async function generatedOnce(path: string, make: () => string): Promise<string> {
  const existing = await readFile(path, "utf8").catch(() => null);
  if (existing) return existing;
  await mkdir(join(path, ".."), { recursive: true, mode: 0o700 });
  try {
    await writeFile(path, make(), { mode: 0o600, flag: "wx" });
    await chmod(path, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return readFile(path, "utf8");
}

/** GAIA_JWT_PRIVATE_KEY when set; otherwise a key generated once under <data dir>/keys (development). */
export async function loadSigningKeys(source: KeySource, dataDir: string): Promise<SigningKeys> {
  const pem =
    source.privateKeyPem ??
    (await generatedOnce(join(dataDir, "keys", "jwt-es256.pem"), () =>
      generateKeyPairSync("ec", { namedCurve: "P-256" })
        .privateKey.export({ type: "pkcs8", format: "pem" })
        .toString(),
    ));
  return signingKeys(source, pem);
}

/** The secret that opens auth's /internal endpoints to the gateway: GAIA_INTERNAL_TOKEN, or one generated for dev. */
export async function loadInternalToken(given: string | undefined, dataDir: string): Promise<string> {
  if (given) return given;
  const token = await generatedOnce(internalTokenFile(dataDir), () => randomBytes(32).toString("base64url"));
  return token.trim();
}
