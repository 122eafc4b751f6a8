import {
  type Bus,
  IDENTITY_REVOKED_SUBJECT,
  type Logger,
  type Revocation,
  SERVICE_TOKEN_TTL_SECONDS,
  signRevocation,
} from "@gaia/kit";
import type { SigningKeys } from "./signing.ts";

/** Tell every process that tokens already issued for this identity are dead (kit revocation.ts). */
export type AnnounceRevocation = (revocation: Omit<Revocation, "at">) => Promise<void>;

/**
 * Auth's side of revocations: each is stamped with the time, signed with the key that signs identity tokens, and
 * published. Call it once the database says the credential is dead, so that the time stamp follows every read
 * that could still have found it alive.
 */
export function revocationAnnouncer(deps: { bus: Bus; keys: SigningKeys; log: Logger }): AnnounceRevocation {
  const { bus, keys, log } = deps;
  return async (revocation) => {
    const token = await signRevocation(
      { ...revocation, at: Math.floor(Date.now() / 1000) },
      keys.privateKey,
      keys.kid,
    );
    if (!bus.healthy()) {
      log.warn(
        { userId: revocation.userId, keyId: revocation.keyId, sessionId: revocation.sessionId },
        `bus unavailable: other services miss this revocation, and its tokens work there up to ${SERVICE_TOKEN_TTL_SECONDS} s`,
      );
    }
    await bus.publish(IDENTITY_REVOKED_SUBJECT, { token });
  };
}
