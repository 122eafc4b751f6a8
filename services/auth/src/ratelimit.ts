import { createHash } from "node:crypto";
import { type Cache, MemoryCache, tooManyRequests } from "@gaia/kit";

export interface LoginLimits {
  /** Failed logins for one email from one address before each further one doubles the wait. */
  freeFailures: number;
  /** Failed logins from one address, over every email, before the same waits apply to the whole address. */
  freeFailuresPerIp: number;
  /** The longest wait, however many failures came before. */
  maxDelaySeconds: number;
  /** How long an address's failures, and its registrations, are counted (from the first). */
  windowSeconds: number;
  registrationsPerIp: number;
}

/**
 * How long an email's failures from one address are remembered. Its owner clears them by logging in, so the
 * memory costs only a guesser; kept a day, the doubling waits hold a guesser at the cap (one guess every
 * maxDelaySeconds: 288 a day at 300 s) instead of giving a fresh run of free failures every few minutes.
 */
const PAIR_MEMORY_SECONDS = 86_400;

/** The wait after the n-th failure in a row: none for the free ones, then one second, doubling, up to the cap. */
export function backoffSeconds(failures: number, free: number, maxSeconds: number): number {
  if (failures <= free) return 0;
  return Math.min(maxSeconds, 2 ** Math.min(failures - free - 1, 30));
}

/** What is throttled: one email from one address, or one address over every email. */
interface Subject {
  counter: string;
  /** Present while the subject must wait, or while its one allowed attempt is being checked. */
  gate: string;
  free: number;
  memorySeconds: number;
}

/** One subject's part in an attempt. */
interface Reservation {
  subject: Subject;
  /** The shared cache, or this process's memory while the shared cache is away. */
  store: Cache;
  /** The subject's failure count should this attempt fail; it is counted already. */
  failures: number;
  /** This attempt holds the subject's gate (it came past the free failures). */
  gated: boolean;
  /** Above zero: refused, the subject must wait this much longer. */
  waitMs: number;
}

/** A login attempt let through: tell the limiter how it ended, once. */
export interface LoginAttempt {
  /** A wrong password (or unknown email): counts, and past the free failures makes the next attempt wait. */
  failed(): Promise<void>;
  /** The right password: clears the email's count at this address; the address's count is left as it was. */
  succeeded(): Promise<void>;
  /** Never judged (the database failed, say): as if it had not been made. */
  abandoned(): Promise<void>;
}

/**
 * Login throttling after OWASP's advice: growing delays rather than a lockout, counted per (email, address)
 * and per address, never per email alone, so that someone guessing elsewhere cannot lock an owner out. A few
 * failures are free; after each further one the next attempt must wait twice as long as the last, up to a cap.
 * Attempts inside the wait are answered 429 without checking the password, and are not counted.
 *
 * Atomic across replicas with the cache's counters alone: an attempt counts itself as a failure before the
 * password is checked (so a burst cannot slip a thousand guesses past a count of zero) and is taken back if
 * it was refused, never judged, or, for the address, right. Past the free failures attempts take turns
 * through a gate, a counter whose first increment wins it; a failure leaves the gate closed for its wait.
 * While the shared cache is away this process counts on its own, so an outage does not open the door.
 * Emails are hashed in the keys: the cache need not hold a list of addresses.
 */
export class LoginLimiter {
  readonly #cache: Cache;
  readonly #local: MemoryCache;
  readonly #limits: LoginLimits;

  constructor(cache: Cache, limits: LoginLimits, now: () => number = Date.now) {
    this.#cache = cache;
    this.#local = new MemoryCache(now);
    this.#limits = limits;
  }

  #pair(email: string, ip: string): Subject {
    const id = createHash("sha256").update(`${email}\n${ip}`).digest("hex");
    const { freeFailures: free } = this.#limits;
    return {
      counter: `login:pair:${id}`,
      gate: `login:pair-wait:${id}`,
      free,
      memorySeconds: PAIR_MEMORY_SECONDS,
    };
  }

  #address(ip: string): Subject {
    const { freeFailuresPerIp: free, windowSeconds } = this.#limits;
    return { counter: `login:ip:${ip}`, gate: `login:ip-wait:${ip}`, free, memorySeconds: windowSeconds };
  }

  #wait(failures: number, subject: Subject) {
    return backoffSeconds(failures, subject.free, this.#limits.maxDelaySeconds);
  }

  async #reserve(subject: Subject): Promise<Reservation> {
    const shared = await this.#cache.incr(subject.counter, subject.memorySeconds);
    const store = shared ? this.#cache : this.#local;
    const counted = shared ?? (await this.#local.incr(subject.counter, subject.memorySeconds));
    const reservation = { subject, store, failures: counted.count, gated: false, waitMs: 0 };
    if (counted.count <= subject.free) return reservation;
    // Held for the wait this attempt would set by failing, in case it never reports back.
    const hold = Math.max(1, this.#wait(counted.count, subject));
    const gate = (await store.incr(subject.gate, hold)) ?? (await this.#local.incr(subject.gate, hold));
    if (gate.count === 1) return { ...reservation, gated: true };
    return { ...reservation, waitMs: Math.max(1, gate.ttlMs) };
  }

  /** Take back this attempt's count, and open the gate it held. */
  async #release(r: Reservation): Promise<void> {
    await r.store.incr(r.subject.counter, r.subject.memorySeconds, -1);
    if (r.gated) await r.store.del(r.subject.gate);
  }

  async #fail(r: Reservation): Promise<void> {
    const wait = this.#wait(r.failures, r.subject);
    // The wait runs from the failure, not from the attempt: a slow password check does not eat into it.
    if (wait > 0) await r.store.set(r.subject.gate, "1", wait);
  }

  async #clear(r: Reservation): Promise<void> {
    const { counter, gate } = r.subject;
    await Promise.all([this.#cache.del(counter, gate), this.#local.del(counter, gate)]);
  }

  /** Let an attempt through, or throw 429 with Retry-After while its email and address, or its address, must wait. */
  async attempt(email: string, ip: string): Promise<LoginAttempt> {
    const [pair, address] = await Promise.all([
      this.#reserve(this.#pair(email, ip)),
      this.#reserve(this.#address(ip)),
    ]);
    const waitMs = Math.max(pair.waitMs, address.waitMs);
    if (waitMs > 0) {
      await Promise.all([this.#release(pair), this.#release(address)]);
      const seconds = Math.ceil(waitMs / 1000);
      throw tooManyRequests(
        `Too many failed logins; try again in ${seconds} ${seconds === 1 ? "second" : "seconds"}`,
        seconds,
      );
    }
    let settled = false;
    const once = (settle: () => Promise<unknown>) => async () => {
      if (settled) return;
      settled = true;
      await settle();
    };
    return {
      failed: once(() => Promise.all([this.#fail(pair), this.#fail(address)])),
      succeeded: once(() => Promise.all([this.#clear(pair), this.#release(address)])),
      abandoned: once(() => Promise.all([this.#release(pair), this.#release(address)])),
    };
  }

  /** Registrations are counted per address and window: each one costs a password hash. */
  async registration(ip: string): Promise<void> {
    const key = `register:ip:${ip}`;
    const { windowSeconds } = this.#limits;
    const { count, ttlMs } =
      (await this.#cache.incr(key, windowSeconds)) ?? (await this.#local.incr(key, windowSeconds));
    if (count > this.#limits.registrationsPerIp)
      throw tooManyRequests("Too many registrations; try again later", ttlMs / 1000);
  }
}
