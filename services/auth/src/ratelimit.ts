import { createHash } from "node:crypto";
import { type Cache, MemoryCache, tooManyRequests } from "@gaia/kit";

export interface LoginLimits {
  perEmail: number;
  perIp: number;
  windowSeconds: number;
}

/**
 * Login attempts counted per email and per client address in fixed windows (cache.incr). While the shared
 * cache is away, counting continues in this process, so a Redis outage does not open the door to guessing.
 * Emails are hashed in the key: the cache need not hold a list of addresses.
 */
export class LoginLimiter {
  readonly #cache: Cache;
  readonly #local = new MemoryCache();
  readonly #limits: LoginLimits;

  constructor(cache: Cache, limits: LoginLimits) {
    this.#cache = cache;
    this.#limits = limits;
  }

  static emailKey(email: string): string {
    return `login:email:${createHash("sha256").update(email).digest("hex")}`;
  }

  async #count(key: string) {
    const window = this.#limits.windowSeconds;
    return (await this.#cache.incr(key, window)) ?? (await this.#local.incr(key, window));
  }

  /** Count one attempt; throws 429 with Retry-After when either limit is passed. */
  async attempt(email: string, ip: string): Promise<void> {
    const [byEmail, byIp] = await Promise.all([
      this.#count(LoginLimiter.emailKey(email)),
      this.#count(`login:ip:${ip}`),
    ]);
    const over = [
      byEmail.count > this.#limits.perEmail ? byEmail.ttlMs : 0,
      byIp.count > this.#limits.perIp ? byIp.ttlMs : 0,
    ];
    const waitMs = Math.max(...over);
    if (waitMs > 0) throw tooManyRequests("Too many login attempts; try again later", waitMs / 1000);
  }

  /** Registrations share the per-address limit: each one costs a password hash. */
  async registration(ip: string): Promise<void> {
    const { count, ttlMs } = await this.#count(`register:ip:${ip}`);
    if (count > this.#limits.perIp)
      throw tooManyRequests("Too many registrations; try again later", ttlMs / 1000);
  }

  /** A successful login clears its email's count, so its owner is not locked out by earlier typos. */
  async succeeded(email: string): Promise<void> {
    const key = LoginLimiter.emailKey(email);
    await Promise.all([this.#cache.del(key), this.#local.del(key)]);
  }
}
