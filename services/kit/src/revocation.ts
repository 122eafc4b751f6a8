import { type CryptoKey, type JWTVerifyGetKey, jwtVerify, type KeyObject, SignJWT } from "jose";
import type { Bus, Unsubscribe } from "./bus.ts";
import { unauthorized } from "./errors.ts";
import {
  type AuthType,
  type Identity,
  isAuthType,
  isRole,
  type Role,
  SERVICE_TOKEN_ISSUER,
  SERVICE_TOKEN_TTL_SECONDS,
} from "./identity.ts";
import type { Logger } from "./log.ts";
import { IDENTITY_REVOKED_SUBJECT } from "./subjects.ts";

/**
 * Identities revoked after tokens were issued for them. An X-Gaia-Identity stays valid for its whole life
 * (SERVICE_TOKEN_TTL_SECONDS) unless every process learns otherwise: when a key is revoked, a session ends, or an
 * account is disabled or changes role, auth announces it on IDENTITY_REVOKED_SUBJECT, and each process refuses
 * the tokens it ends until they would have expired anyway.
 *
 * - Each announcement is a JWT signed by auth (audience gaia-revocations), checked against auth's keys: whoever
 *   else can publish on the bus cannot lock users out.
 * - A revocation names a user and may narrow itself to a key, a session or an auth type; a role names the one the
 *   user has now, and ends tokens carrying any other. It ends tokens issued at or before its time plus
 *   REVOCATION_MARGIN_SECONDS. Both times are read from auth's clocks (a backend's own clock never enters the
 *   comparison); the margin covers the clocks of different auth replicas and a credential checked just before the
 *   revocation whose token was signed just after it. Tokens minted within the margin after a revocation are
 *   refused too. That costs nothing for a dead key or session, and is why a role change is matched by role; an
 *   account re-enabled within the margin of being disabled waits for the margin to pass.
 * - Each process keeps a revocation REVOCATION_LIFETIME_SECONDS after it arrives (longer than any token it ends
 *   can live, for clocks up to REVOCATION_MARGIN_SECONDS apart from auth's), and at most MAX_REVOCATIONS at once.
 * - While the bus is down, or a process is cut off from it, announcements are missed: plain NATS keeps nothing
 *   for later. A token revoked then keeps working on the processes that missed it until it expires, at most
 *   SERVICE_TOKEN_TTL_SECONDS after it was issued; the credential itself is refused at once by auth and the
 *   gateway (database and shared cache), so no new token is minted for it.
 */
export const REVOCATION_AUDIENCE = "gaia-revocations";
export const REVOCATION_MARGIN_SECONDS = 5;
export const REVOCATION_LIFETIME_SECONDS = SERVICE_TOKEN_TTL_SECONDS + 2 * REVOCATION_MARGIN_SECONDS;
/** About 200 bytes each. Hundreds of revocations a second, for minutes, would be needed to fill it. */
export const MAX_REVOCATIONS = 100_000;

export interface Revocation {
  userId: string;
  /** Epoch seconds, by auth's clock. */
  at: number;
  keyId?: string;
  sessionId?: string;
  authType?: AuthType;
  /** The role the user holds now: tokens carrying another one are ended. */
  role?: Role;
}

/** Does `revocation` end a token for `identity` issued at `issuedAt` (epoch seconds)? */
export function revokes(revocation: Revocation, identity: Identity, issuedAt: number): boolean {
  return (
    identity.userId === revocation.userId &&
    issuedAt <= revocation.at + REVOCATION_MARGIN_SECONDS &&
    (revocation.keyId === undefined || identity.keyId === revocation.keyId) &&
    (revocation.sessionId === undefined || identity.sessionId === revocation.sessionId) &&
    (revocation.authType === undefined || identity.authType === revocation.authType) &&
    (revocation.role === undefined || identity.role !== revocation.role)
  );
}

/** Why a token was refused, for its holder. */
export function revocationReason(revocation: Revocation): string {
  if (revocation.keyId) return "its API key was revoked";
  if (revocation.sessionId) return "its session has ended";
  if (revocation.authType) return "the user's sessions have ended";
  if (revocation.role) return "the user's role has changed";
  return "the account was disabled";
}

export function signRevocation(
  revocation: Revocation,
  key: CryptoKey | KeyObject,
  kid: string,
): Promise<string> {
  return new SignJWT({
    key_id: revocation.keyId,
    session_id: revocation.sessionId,
    auth_type: revocation.authType,
    role: revocation.role,
  })
    .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
    .setIssuer(SERVICE_TOKEN_ISSUER)
    .setAudience(REVOCATION_AUDIENCE)
    .setSubject(revocation.userId)
    .setIssuedAt(revocation.at)
    .setExpirationTime(revocation.at + REVOCATION_LIFETIME_SECONDS)
    .sign(key);
}

const text = (value: unknown) => (typeof value === "string" && value ? value : undefined);

/** The revocation in an announcement, if auth signed it; throws otherwise. */
export async function verifyRevocation(token: string, keys: JWTVerifyGetKey): Promise<Revocation> {
  const { payload } = await jwtVerify(token, keys, {
    issuer: SERVICE_TOKEN_ISSUER,
    audience: REVOCATION_AUDIENCE,
    algorithms: ["ES256"],
    requiredClaims: ["sub", "iat", "exp"],
  });
  return {
    userId: payload.sub as string,
    at: payload.iat as number,
    ...(text(payload.key_id) ? { keyId: text(payload.key_id) } : {}),
    ...(text(payload.session_id) ? { sessionId: text(payload.session_id) } : {}),
    ...(isAuthType(payload.auth_type) ? { authType: payload.auth_type } : {}),
    ...(isRole(payload.role) ? { role: payload.role } : {}),
  };
}

interface Held {
  revocation: Revocation;
  /** Epoch ms, by this process's clock. */
  until: number;
}

/** The revocations this process knows of, by user; old ones fall away as they arrive. */
export class RevocationList {
  readonly #byUser = new Map<string, Held[]>();
  /** In arrival order, which is also the order in which they expire. */
  readonly #arrivals: Held[] = [];
  readonly #now: () => number;
  readonly #limit: number;
  readonly #log: Logger | undefined;
  #full = false;

  constructor(options: { now?: () => number; limit?: number; log?: Logger } = {}) {
    this.#now = options.now ?? Date.now;
    this.#limit = options.limit ?? MAX_REVOCATIONS;
    this.#log = options.log;
  }

  add(revocation: Revocation): void {
    this.#prune();
    if (this.#arrivals.length >= this.#limit) {
      if (!this.#full)
        this.#log?.error(
          { limit: this.#limit },
          "revocation list full: the oldest entries are dropped, and tokens they ended work until they expire",
        );
      this.#full = true;
      this.#remove(this.#arrivals.shift()!);
    } else this.#full = false;
    const held = { revocation, until: this.#now() + REVOCATION_LIFETIME_SECONDS * 1000 };
    this.#arrivals.push(held);
    const ofUser = this.#byUser.get(revocation.userId);
    if (ofUser) ofUser.push(held);
    else this.#byUser.set(revocation.userId, [held]);
  }

  /** The revocation that ends a token for `identity` issued at `issuedAt` (epoch seconds), if there is one. */
  find(identity: Identity, issuedAt: number): Revocation | undefined {
    const ofUser = this.#byUser.get(identity.userId);
    if (!ofUser) return undefined;
    const now = this.#now();
    return ofUser.find((held) => held.until > now && revokes(held.revocation, identity, issuedAt))
      ?.revocation;
  }

  /** Refuse, with the 401 its holder sees, a token that a revocation ended. */
  check(identity: Identity, issuedAt: number): void {
    const revocation = this.find(identity, issuedAt);
    if (revocation)
      throw unauthorized(`Identity token was revoked: ${revocationReason(revocation)}`, "identity_revoked");
  }

  get size(): number {
    this.#prune();
    return this.#arrivals.length;
  }

  #prune() {
    const now = this.#now();
    while (this.#arrivals.length > 0 && this.#arrivals[0]!.until <= now)
      this.#remove(this.#arrivals.shift()!);
  }

  #remove(held: Held) {
    const userId = held.revocation.userId;
    const ofUser = this.#byUser.get(userId);
    if (!ofUser) return;
    ofUser.splice(ofUser.indexOf(held), 1);
    if (ofUser.length === 0) this.#byUser.delete(userId);
  }
}

/** Feed `list` with the announcements on the bus that carry auth's signature; any other is dropped and logged. */
export function followRevocations(
  bus: Bus,
  list: RevocationList,
  keys: JWTVerifyGetKey,
  log: Logger,
): Unsubscribe {
  return bus.subscribe(IDENTITY_REVOKED_SUBJECT, async (payload) => {
    const token = (payload as { token?: unknown } | null)?.token;
    try {
      if (typeof token !== "string") throw new Error("the announcement carries no token");
      list.add(await verifyRevocation(token, keys));
    } catch (error) {
      log.warn({ err: String(error) }, "revocation announcement refused");
    }
  });
}
