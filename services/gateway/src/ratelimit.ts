import type { Cache, Identity, Role } from "@gaia/kit";

/**
 * Fixed-window rate limiting per caller: a user (all their keys and sessions together), else the client's address.
 * Counted in the shared cache (kit cache.incr) so every gateway replica sees one count; while the cache is
 * away each replica counts on its own, which keeps the limit in force (per replica) instead of dropping it.
 */

export type Tier = Role | "anonymous";

export interface RateLimits {
  windowSeconds: number;
  perMinute: Record<Tier, number>;
}

export interface RateSubject {
  key: string;
  tier: Tier;
}

export interface Decision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window starts over. */
  resetSeconds: number;
}

/**
 * A role's limit is the user's, whichever key or session they call with: making keys does not multiply it. A
 * per-key limit, should keys get one, would be a further subject (`key:<keyId>`) checked after this one, so it
 * can only narrow the user's. `address` is asked only for anonymous callers (working out a client's address
 * behind proxies costs).
 */
export function rateSubject(identity: Identity | undefined, address: () => string): RateSubject {
  if (!identity) return { key: `ip:${address()}`, tier: "anonymous" };
  return { key: `user:${identity.userId}`, tier: identity.role };
}

/** The limit for a window, from a per-minute figure (windows need not be a minute long). */
export function limitFor(limits: RateLimits, tier: Tier): number {
  return Math.max(1, Math.round((limits.perMinute[tier] * limits.windowSeconds) / 60));
}

export function decide(count: number, limit: number, ttlMs: number, windowSeconds: number): Decision {
  const resetSeconds = Math.max(1, Math.ceil((ttlMs > 0 ? ttlMs : windowSeconds * 1000) / 1000));
  return { allowed: count <= limit, limit, remaining: Math.max(0, limit - count), resetSeconds };
}

/** The IETF draft's fields (RateLimit-Limit, -Remaining, -Reset), plus Retry-After once refused. */
export function rateLimitHeaders(decision: Decision): Record<string, string> {
  const headers: Record<string, string> = {
    "RateLimit-Limit": String(decision.limit),
    "RateLimit-Remaining": String(decision.remaining),
    "RateLimit-Reset": String(decision.resetSeconds),
  };
  if (!decision.allowed) headers["Retry-After"] = String(decision.resetSeconds);
  return headers;
}

/**
 * Hits a replica takes from the shared counter at a time: 2 % of the limit, at most 32, at least one. Limits
 * under 100 per window are so counted hit by hit.
 */
export function leaseSize(limit: number): number {
  return Math.min(32, Math.max(1, Math.floor(limit / 50)));
}

interface Window {
  /** The best known number of hits in this window, all replicas together. */
  count: number;
  resetAt: number;
  /** Hits this replica may still take from its leases; below zero while the next lease is on its way. */
  leased: number;
  leasing: boolean;
  unit: number;
  /** True while the shared cache counts; false while this process counts alone (the cache is away). */
  shared: boolean;
}

/**
 * The shared counter in Redis counts leases of `leaseSize(limit)` hits. A replica takes a lease when it has
 * used up the last one, in the background, and decides every request on its own mirror of the count: so most
 * requests make no round trip to Redis, and a limit of hundreds costs one increment per 2 % of it. The
 * mirror counts every lease as used, so with several replicas it errs on the strict side, by at most the
 * unused part of one lease per other replica; with one replica it is exact. The first hit of a window waits
 * for its lease, so that a replica starts from the shared count.
 */
export class RateLimiter {
  readonly #cache: Cache;
  readonly #limits: RateLimits;
  readonly #now: () => number;
  readonly #windows = new Map<string, Window>();
  #nextSweep = 0;

  constructor(cache: Cache, limits: RateLimits, now: () => number = Date.now) {
    this.#cache = cache;
    this.#limits = limits;
    this.#now = now;
  }

  async check(subject: RateSubject): Promise<Decision> {
    const limit = limitFor(this.#limits, subject.tier);
    const { windowSeconds } = this.#limits;
    const now = this.#now();
    const window = this.#windows.get(subject.key);
    if (window?.shared && window.resetAt > now) {
      window.count++;
      window.leased--;
      if (window.leased < 0 && !window.leasing) void this.#lease(subject.key, window);
      return decide(window.count, limit, window.resetAt - now, windowSeconds);
    }
    const unit = leaseSize(limit);
    const leased = await this.#cache.incr(`ratelimit:${subject.key}`, windowSeconds);
    if (leased) {
      // This hit takes one of the lease's hits; the rest are this replica's to use.
      const fresh = { leased: unit - 1, leasing: false, unit, shared: true };
      const count = leased.count * unit - fresh.leased;
      this.#remember(subject.key, { ...fresh, count, resetAt: now + leased.ttlMs });
      return decide(count, limit, leased.ttlMs, windowSeconds);
    }
    return this.#countLocally(subject.key, limit, now);
  }

  async #lease(key: string, window: Window) {
    window.leasing = true;
    const leased = await this.#cache.incr(`ratelimit:${key}`, this.#limits.windowSeconds);
    window.leasing = false;
    if (!leased) {
      window.shared = false;
      return;
    }
    window.leased += window.unit;
    const resetAt = this.#now() + leased.ttlMs;
    // The shared count counts every leased hit; this replica's unused ones are not hits yet.
    const shared = leased.count * window.unit - Math.max(0, window.leased);
    // A reset later than the mirror's means the shared window ended and this lease began a new one.
    const renewed = resetAt > window.resetAt + 1000;
    window.count = renewed ? shared : Math.max(window.count, shared);
    window.resetAt = resetAt;
    if (window.leased < 0) void this.#lease(key, window);
  }

  /** While the cache is away: count here alone, so the limit stays in force (per replica). */
  #countLocally(key: string, limit: number, now: number): Decision {
    const { windowSeconds } = this.#limits;
    let window = this.#windows.get(key);
    if (!window || window.resetAt <= now) {
      window = {
        count: 0,
        resetAt: now + windowSeconds * 1000,
        leased: 0,
        leasing: false,
        unit: 1,
        shared: false,
      };
      this.#remember(key, window);
    }
    window.shared = false;
    window.count++;
    return decide(window.count, limit, window.resetAt - now, windowSeconds);
  }

  #remember(key: string, window: Window) {
    const now = this.#now();
    if (now >= this.#nextSweep) {
      for (const [k, w] of this.#windows) if (w.resetAt <= now) this.#windows.delete(k);
      this.#nextSweep = now + this.#limits.windowSeconds * 1000;
    }
    this.#windows.set(key, window);
  }
}
