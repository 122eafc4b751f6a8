import { authnSealKey, type Bus, type Cache, type Logger, type RevocationList } from "@gaia/kit";
import type { Db } from "@gaia/kit/db/client";
import { UserAdmin } from "./admin.ts";
import { auditTrail } from "./audit.ts";
import { Authenticator } from "./authenticate.ts";
import { CredentialCache } from "./credentials.ts";
import { KeyManager } from "./keys.ts";
import { LastUsedBuffer } from "./lastused.ts";
import { dummyHash } from "./passwords.ts";
import { LoginLimiter } from "./ratelimit.ts";
import { revocationAnnouncer } from "./revocations.ts";
import { Sessions } from "./sessions.ts";
import type { AuthSettings } from "./settings.ts";
import { loadInternalToken, loadSigningKeys } from "./signing.ts";
import { supabaseVerifier } from "./supabase.ts";
import { localIdentityVerifier } from "./tokens.ts";

/** How often invalidations that missed a cache outage are retried. */
const RETRY_INVALIDATIONS_MS = 2000;

export type AuthCore = Awaited<ReturnType<typeof createAuthCore>>;

/**
 * Auth's parts, built from a database, cache and bus, without HTTP: the service, its tests and the bench share it.
 * `revocations` is the runtime's list, which its identity checks consult.
 */
export async function createAuthCore(
  deps: { db: Db; cache: Cache; bus: Bus; log: Logger; revocations?: RevocationList },
  settings: AuthSettings,
) {
  const { db, cache, bus, log } = deps;
  const [keys, internalToken] = await Promise.all([
    loadSigningKeys(settings.jwt, settings.dataDir),
    loadInternalToken(settings.internalToken, settings.dataDir),
    dummyHash(),
  ]);
  const audit = auditTrail(db, bus, log);
  const credentials = new CredentialCache(cache, bus, log, authnSealKey(internalToken));
  const announce = revocationAnnouncer({ bus, keys, log });
  const lastUsed = new LastUsedBuffer(db, log);
  lastUsed.start(settings.lastUsedFlushSeconds * 1000);
  const retry = setInterval(() => void credentials.retryPending(), RETRY_INVALIDATIONS_MS).unref();

  return {
    keys,
    internalToken,
    // Auth issues X-Gaia-Identity itself, so it checks it against its own keys rather than its own JWKS URL.
    verifyIdentity: localIdentityVerifier(keys, deps.revocations),
    credentials,
    authenticator: new Authenticator({
      db,
      credentials,
      keys,
      supabase: supabaseVerifier(settings.supabase),
      lastUsed,
      audit,
    }),
    sessions: new Sessions({
      db,
      keys,
      limiter: new LoginLimiter(cache, settings.login),
      credentials,
      announce,
      audit,
      accessTokenTtlSeconds: settings.accessTokenTtlSeconds,
      refreshTokenTtlSeconds: settings.refreshTokenTtlSeconds,
    }),
    keyManager: new KeyManager({ db, credentials, announce, lastUsed, audit }),
    admin: new UserAdmin({ db, credentials, announce, audit }),
    /** Stop the timers and write what is still buffered. */
    async stop() {
      clearInterval(retry);
      await lastUsed.stop();
    },
  };
}
