import {
  authnKey,
  type Cache,
  credentialHash,
  type Identity,
  openIdentity,
  type RevocationList,
  unauthorized,
} from "@gaia/kit";
import type { Credential } from "./credentials.ts";
import { identityKey } from "./identity.ts";
import type { AuthClient, ServiceToken } from "./providers/auth-client.ts";

/**
 * Credential → identity and the service token that carries it to a backend, fastest source first:
 *
 *   1. this process's memory (a few seconds; dropped at once on a revocation event),
 *   2. the shared cache `authn:<sha256>`, written (sealed) by auth and deleted by it on revoke, plus a service
 *      token this process holds for that identity (or mints through auth); an entry whose seal does not verify
 *      is someone else's write to the cache server, ignored and counted,
 *   3. auth itself (`/internal/authenticate`), which consults its database — so authentication goes on,
 *      slower, while Redis is away.
 *
 * A service token that one of auth's revocations ended is never handed to a backend again (which would refuse
 * it): the identity is resolved anew, and a role change, say, brings a token carrying the new role.
 */

export interface Authenticated {
  identity: Identity;
  token: string;
}

interface Entry extends Authenticated {
  hash: string;
  tokenExpiresAt: number;
  /** Epoch seconds, as the token says. */
  tokenIssuedAt: number;
  freshUntil: number;
}

type Minted = ServiceToken & { issuedAt: number };

/** A service token is replaced this long before it expires, so none expires on its way to a backend. */
export const TOKEN_MARGIN_MS = 30_000;
const MAX_ENTRIES = 50_000;
/** Credentials longer than this are not credentials; auth would refuse them anyway. */
const MAX_CREDENTIAL_LENGTH = 8192;

export interface AuthenticatorOptions {
  cache: Cache;
  client: AuthClient;
  /** The key auth seals cache entries with; undefined while this process cannot know it (then the cache is skipped). */
  sealKey: () => Promise<Buffer | undefined>;
  /** Told of every cache entry that failed its seal. */
  onForged?: () => void;
  /** How long an identity stays in this process's memory; 0 keeps none. */
  localTtlMs: number;
  /** What auth revoked (the runtime's list). */
  revocations?: RevocationList;
  now?: () => number;
}

/** A time claim of a JWT (epoch seconds), read without verification: only ever to stop using a token sooner. */
export function jwtTime(token: string, claim: "exp" | "iat"): number | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    return typeof claims[claim] === "number" ? claims[claim] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A bearer JWT's own expiry (epoch ms): used only to end a cache entry sooner, so a token that expires while
 * remembered stops working when it expires.
 */
export function jwtExpiry(token: string): number | undefined {
  const exp = jwtTime(token, "exp");
  return exp === undefined ? undefined : exp * 1000;
}

/** A token auth just handed over; without a readable iat it counts as issued at the epoch (revoked by any match). */
function minted(token: ServiceToken): Minted {
  return { ...token, issuedAt: jwtTime(token.token, "iat") ?? 0 };
}

function remember<K, V>(map: Map<K, V>, key: K, value: V) {
  // Map keeps insertion order: past the bound, the oldest entry goes.
  if (map.size >= MAX_ENTRIES && !map.has(key)) map.delete(map.keys().next().value as K);
  map.set(key, value);
}

export class Authenticator {
  readonly #options: AuthenticatorOptions;
  readonly #now: () => number;
  /** By raw credential, which spares the hot path a hash. */
  readonly #local = new Map<string, Entry>();
  readonly #tokens = new Map<string, Minted>();
  readonly #inflight = new Map<string, Promise<Entry>>();
  /** Bumped by every revocation: a lookup that straddles one must not refill this process's memory. */
  #generation = 0;

  constructor(options: AuthenticatorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The synchronous fast path: a fresh entry in memory, or undefined. */
  cached(credential: Credential): Authenticated | undefined {
    const entry = this.#local.get(credential.value);
    if (!entry) return undefined;
    const now = this.#now();
    if (
      now < entry.freshUntil &&
      now < entry.tokenExpiresAt - TOKEN_MARGIN_MS &&
      !this.#revoked(entry.identity, entry.tokenIssuedAt)
    )
      return entry;
    this.#local.delete(credential.value);
    return undefined;
  }

  /** Concurrent requests with the same credential share one lookup. */
  authenticate(credential: Credential, requestId: string): Promise<Authenticated> {
    if (credential.value.length > MAX_CREDENTIAL_LENGTH)
      return Promise.reject(unauthorized("Invalid credentials"));
    const running = this.#inflight.get(credential.value);
    if (running) return running;
    const lookup: Promise<Entry> = this.#resolve(credential, requestId).finally(() => {
      if (this.#inflight.get(credential.value) === lookup) this.#inflight.delete(credential.value);
    });
    this.#inflight.set(credential.value, lookup);
    return lookup;
  }

  /** Drop every local copy of these credentials (auth announces revocations by hash). */
  revoke(hashes: readonly string[]) {
    this.#generation++;
    // A lookup already under way may have read what is now revoked: later requests start their own.
    this.#inflight.clear();
    const dead = new Set(hashes);
    for (const [raw, entry] of this.#local) if (dead.has(entry.hash)) this.#local.delete(raw);
  }

  async #resolve(credential: Credential, requestId: string): Promise<Entry> {
    const generation = this.#generation;
    const hash = credentialHash(credential.value);
    const { cache, client } = this.#options;
    let identity = await this.#fromCache(cache, hash);
    let token: Minted | undefined = identity ? this.#freshToken(identity) : undefined;
    if (identity && !token) {
      const fresh = await client.serviceToken(identity, requestId);
      token = fresh && minted(fresh);
    }
    if (!identity || !token) {
      const proven = await client.authenticate(credential, requestId);
      identity = proven.identity;
      token = minted(proven.token);
    }
    remember(this.#tokens, identityKey(identity), token);
    const entry: Entry = {
      identity,
      token: token.token,
      hash,
      tokenExpiresAt: token.expiresAt,
      tokenIssuedAt: token.issuedAt,
      freshUntil: Math.min(
        this.#now() + this.#options.localTtlMs,
        (credential.kind === "bearer" && jwtExpiry(credential.value)) || Number.POSITIVE_INFINITY,
      ),
    };
    if (this.#options.localTtlMs > 0 && generation === this.#generation)
      remember(this.#local, credential.value, entry);
    return entry;
  }

  async #fromCache(cache: Cache, hash: string): Promise<Identity | undefined> {
    const key = await this.#options.sealKey();
    if (!key) return undefined;
    const opened = openIdentity(key, hash, await cache.get(authnKey(hash)), this.#now() / 1000);
    if (opened.kind === "forged") this.#options.onForged?.();
    return opened.kind === "identity" ? opened.identity : undefined;
  }

  #freshToken(identity: Identity): Minted | undefined {
    const token = this.#tokens.get(identityKey(identity));
    if (!token || token.expiresAt - TOKEN_MARGIN_MS <= this.#now()) return undefined;
    return this.#revoked(identity, token.issuedAt) ? undefined : token;
  }

  #revoked(identity: Identity, issuedAt: number): boolean {
    return this.#options.revocations?.find(identity, issuedAt) !== undefined;
  }
}
