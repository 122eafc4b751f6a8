import { readEnv } from "@gaia/kit";
import { z } from "zod";
import type { LoginLimits } from "./ratelimit.ts";

const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === "" ? undefined : value), schema.optional());
const seconds = (fallback: number) => z.coerce.number().int().min(1).default(fallback);
const retired = (instead: string) =>
  optional(z.undefined({ error: `no longer read; set ${instead} instead` }));

/** Auth's own variables, beside the platform ones every process reads. */
export const authEnv = z.object({
  GAIA_DATA_DIR: z.string().default(".gaia"),
  /** ES256 signing key, PKCS#8 PEM; when unset a key is generated once under GAIA_DATA_DIR/keys (dev). */
  GAIA_JWT_PRIVATE_KEY: optional(z.string().min(1)),
  GAIA_JWT_KEY_ID: optional(z.string().min(1).max(128)),
  /** The public key (SPKI PEM) of the key before the current one, still accepted while its tokens live. */
  GAIA_JWT_PREVIOUS_PUBLIC_KEY: optional(z.string().min(1)),
  GAIA_JWT_PREVIOUS_KEY_ID: optional(z.string().min(1).max(128)),
  /** Shared secret the gateway presents on /internal/*; generated under GAIA_DATA_DIR/keys when unset. */
  GAIA_INTERNAL_TOKEN: optional(z.string().min(32)),
  SUPABASE_JWT_SECRET: optional(z.string().min(16)),
  SUPABASE_JWKS_URL: optional(z.url({ protocol: /^https?$/ })),
  SUPABASE_JWT_ISSUER: optional(z.string().min(1)),
  SUPABASE_JWT_AUDIENCE: z.string().min(1).default("authenticated"),
  GAIA_ACCESS_TOKEN_TTL_SECONDS: seconds(900),
  GAIA_REFRESH_TOKEN_TTL_SECONDS: seconds(30 * 24 * 3600),
  /** Failed logins for one email from one address before each further one doubles the wait. */
  GAIA_LOGIN_FREE_FAILURES: z.coerce.number().int().min(0).default(5),
  /** Failed logins from one address, any email, in a window before the address waits too. */
  GAIA_LOGIN_FREE_FAILURES_PER_IP: z.coerce.number().int().min(0).default(100),
  GAIA_LOGIN_MAX_DELAY_SECONDS: seconds(300),
  GAIA_LOGIN_WINDOW_SECONDS: seconds(900),
  GAIA_REGISTER_LIMIT_PER_IP: z.coerce.number().int().min(1).default(100),
  // Their meaning changed (a lockout per email, attempts per address): a deployment that sets them is told.
  GAIA_LOGIN_LIMIT_PER_EMAIL: retired("GAIA_LOGIN_FREE_FAILURES (per email and address)"),
  GAIA_LOGIN_LIMIT_PER_IP: retired("GAIA_LOGIN_FREE_FAILURES_PER_IP and GAIA_REGISTER_LIMIT_PER_IP"),
  GAIA_KEY_LAST_USED_FLUSH_SECONDS: seconds(30),
});

export interface AuthSettings {
  dataDir: string;
  jwt: { privateKeyPem?: string; keyId?: string; previousPublicKeyPem?: string; previousKeyId?: string };
  internalToken?: string;
  supabase: { secret?: string; jwksUrl?: string; issuer?: string; audience: string };
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  login: LoginLimits;
  lastUsedFlushSeconds: number;
}

/** PEM in an environment variable often arrives with its newlines escaped. */
const pem = (value: string | undefined) => value?.replace(/\\n/g, "\n");

export function loadAuthSettings(env: Record<string, unknown>): AuthSettings {
  const e = readEnv(authEnv, env as NodeJS.ProcessEnv);
  return {
    dataDir: e.GAIA_DATA_DIR,
    jwt: {
      privateKeyPem: pem(e.GAIA_JWT_PRIVATE_KEY),
      keyId: e.GAIA_JWT_KEY_ID,
      previousPublicKeyPem: pem(e.GAIA_JWT_PREVIOUS_PUBLIC_KEY),
      previousKeyId: e.GAIA_JWT_PREVIOUS_KEY_ID,
    },
    internalToken: e.GAIA_INTERNAL_TOKEN,
    supabase: {
      secret: e.SUPABASE_JWT_SECRET,
      jwksUrl: e.SUPABASE_JWKS_URL,
      issuer: e.SUPABASE_JWT_ISSUER,
      audience: e.SUPABASE_JWT_AUDIENCE,
    },
    accessTokenTtlSeconds: e.GAIA_ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlSeconds: e.GAIA_REFRESH_TOKEN_TTL_SECONDS,
    login: {
      freeFailures: e.GAIA_LOGIN_FREE_FAILURES,
      freeFailuresPerIp: e.GAIA_LOGIN_FREE_FAILURES_PER_IP,
      maxDelaySeconds: e.GAIA_LOGIN_MAX_DELAY_SECONDS,
      windowSeconds: e.GAIA_LOGIN_WINDOW_SECONDS,
      registrationsPerIp: e.GAIA_REGISTER_LIMIT_PER_IP,
    },
    lastUsedFlushSeconds: e.GAIA_KEY_LAST_USED_FLUSH_SECONDS,
  };
}
