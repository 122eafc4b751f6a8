import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { CACHE_KEY_PREFIX } from "./datastores.ts";
import type { Logger } from "./log.ts";

/**
 * A small key-value cache with TTLs. Two implementations with the same behaviour: Redis, and process memory
 * for `gaia dev`. Every call degrades instead of failing: while the server is away a read is a miss, a write
 * is dropped, and a counter answers null, so callers fall back to their source of truth.
 */
export interface Cache {
  readonly kind: "redis" | "memory";
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  del(...keys: string[]): Promise<void>;
  /**
   * Add `by` (one unless given; negative takes away) to a counter that expires ttlSeconds after it was made;
   * answers the count and its TTL. A counter that a decrement makes anew (its window ended in between) gets a
   * TTL too, so no counter outlives its window.
   */
  incr(key: string, ttlSeconds: number, by?: number): Promise<{ count: number; ttlMs: number } | null>;
  /** Add members to a set and (re)start its TTL, e.g. an index of the cache keys that belong to one user. */
  addToSet(key: string, members: string[], ttlSeconds: number): Promise<void>;
  /** The members of a set; empty when it is missing or the server is away. */
  setMembers(key: string): Promise<string[]>;
  healthy(): boolean;
  close(): Promise<void>;
}

export async function getJson<T>(cache: Cache, key: string): Promise<T | null> {
  const raw = await cache.get(key);
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return null;
  }
}

export function setJson(cache: Cache, key: string, value: unknown, ttlSeconds: number): Promise<void> {
  return cache.set(key, JSON.stringify(value), ttlSeconds);
}

export class MemoryCache implements Cache {
  readonly kind = "memory" as const;
  readonly #entries = new Map<string, { value: string; expiresAt: number }>();
  readonly #sets = new Map<string, { members: Set<string>; expiresAt: number }>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  #live(key: string) {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  async get(key: string) {
    return this.#live(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlSeconds: number) {
    this.#entries.set(key, { value, expiresAt: this.#now() + ttlSeconds * 1000 });
    if (this.#entries.size % 1024 === 0) this.#sweep();
  }

  async del(...keys: string[]) {
    for (const key of keys) {
      this.#entries.delete(key);
      this.#sets.delete(key);
    }
  }

  async incr(key: string, ttlSeconds: number, by = 1) {
    const entry = this.#live(key);
    if (entry) {
      entry.value = String(Number(entry.value) + by);
      return { count: Number(entry.value), ttlMs: entry.expiresAt - this.#now() };
    }
    this.#entries.set(key, { value: String(by), expiresAt: this.#now() + ttlSeconds * 1000 });
    return { count: by, ttlMs: ttlSeconds * 1000 };
  }

  async addToSet(key: string, members: string[], ttlSeconds: number) {
    const expiresAt = this.#now() + ttlSeconds * 1000;
    const set = this.#liveSet(key);
    if (set) {
      for (const member of members) set.members.add(member);
      set.expiresAt = expiresAt;
    } else {
      this.#sets.set(key, { members: new Set(members), expiresAt });
      if (this.#sets.size % 1024 === 0) this.#sweep();
    }
  }

  async setMembers(key: string) {
    return [...(this.#liveSet(key)?.members ?? [])];
  }

  #liveSet(key: string) {
    const set = this.#sets.get(key);
    if (!set) return undefined;
    if (set.expiresAt <= this.#now()) {
      this.#sets.delete(key);
      return undefined;
    }
    return set;
  }

  healthy() {
    return true;
  }

  async close() {
    this.#entries.clear();
    this.#sets.clear();
  }

  #sweep() {
    const now = this.#now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);
    for (const [key, set] of this.#sets) if (set.expiresAt <= now) this.#sets.delete(key);
  }
}

/** INCRBY that starts the window's TTL when the counter has none (it was just made), answering the count and the time left. */
const INCR_SCRIPT = `local n = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end
return {n, ttl}`;
const INCR_SHA = createHash("sha1").update(INCR_SCRIPT).digest("hex");

export class RedisCache implements Cache {
  readonly kind = "redis" as const;
  readonly #redis: Redis;
  readonly #log: Logger;
  #warned = false;

  constructor(url: string, log: Logger, prefix = CACHE_KEY_PREFIX) {
    this.#log = log;
    this.#redis = new Redis(url, {
      keyPrefix: prefix,
      // Fail fast while Redis is away instead of queueing: callers fall back to the database.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
      lazyConnect: false,
      // Its users may run only the commands the cache needs (kit/src/datastores.ts).
      disableClientInfo: true,
    });
    this.#redis.on("error", (error) => this.#degraded(error));
    this.#redis.on("ready", () => {
      if (this.#warned) this.#log.info("redis is back; cache restored");
      this.#warned = false;
    });
  }

  #degraded(error: unknown) {
    if (this.#warned) return;
    this.#warned = true;
    this.#log.warn({ err: String(error) }, "redis unavailable; cache degraded to misses until it returns");
  }

  async #attempt<T>(fallback: T, op: (redis: Redis) => Promise<T>): Promise<T> {
    if (this.#redis.status !== "ready") return fallback;
    try {
      return await op(this.#redis);
    } catch (error) {
      this.#degraded(error);
      return fallback;
    }
  }

  get(key: string) {
    return this.#attempt(null, (r) => r.get(key));
  }

  async set(key: string, value: string, ttlSeconds: number) {
    await this.#attempt(undefined, async (r) => {
      await r.set(key, value, "PX", Math.max(1, Math.round(ttlSeconds * 1000)));
    });
  }

  async del(...keys: string[]) {
    if (keys.length === 0) return;
    await this.#attempt(undefined, async (r) => {
      await r.del(...keys);
    });
  }

  incr(key: string, ttlSeconds: number, by = 1) {
    return this.#attempt(null, async (r) => {
      const ttlMs = Math.max(1, Math.round(ttlSeconds * 1000));
      // One round trip: rate limiting calls this on hot paths, where a MULTI costs several times as much.
      const [count, left] = (await r
        .evalsha(INCR_SHA, 1, key, ttlMs, by)
        .catch((error) =>
          /NOSCRIPT/.test(String(error)) ? r.eval(INCR_SCRIPT, 1, key, ttlMs, by) : Promise.reject(error),
        )) as [number, number];
      return { count, ttlMs: left };
    });
  }

  async addToSet(key: string, members: string[], ttlSeconds: number) {
    if (members.length === 0) return;
    await this.#attempt(undefined, async (r) => {
      await r
        .multi()
        .sadd(key, ...members)
        .pexpire(key, Math.max(1, Math.round(ttlSeconds * 1000)))
        .exec();
    });
  }

  setMembers(key: string) {
    return this.#attempt([] as string[], (r) => r.smembers(key));
  }

  healthy() {
    return this.#redis.status === "ready";
  }

  async close() {
    this.#redis.disconnect();
  }
}

export function createCache(url: string | undefined, log: Logger): Cache {
  return url ? new RedisCache(url, log) : new MemoryCache();
}
