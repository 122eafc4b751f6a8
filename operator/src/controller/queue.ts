/**
 * A work queue of platform keys ("namespace/name"), after client-go's: a key waits at most once however often it
 * is added, is never handed to two workers at once (added while in process, it comes back when done), and a key
 * that failed comes back after an exponential, per-key back-off.
 */

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** Delay before the n-th retry (n >= 1): base, 2·base, 4·base, ... capped at max. */
export function backoffDelay(failures: number, { baseMs, maxMs }: Backoff): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
}

export type Timer = (callback: () => void, ms: number) => () => void;

const realTimer: Timer = (callback, ms) => {
  const handle = setTimeout(callback, ms);
  handle.unref();
  return () => clearTimeout(handle);
};

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  /** Added while being processed: queue again when done. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, () => void>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private stopped = false;

  constructor(
    private readonly backoff: Backoff = { baseMs: 500, maxMs: 300_000 },
    private readonly timer: Timer = realTimer,
  ) {}

  /** Keys waiting (not those in process). */
  get depth(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.stopped) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queued.add(key);
    this.queue.push(key);
  }

  /** Adds the key after a delay; an earlier pending delay of the same key is replaced. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    this.timers.get(key)?.();
    this.timers.set(
      key,
      this.timer(() => {
        this.timers.delete(key);
        this.add(key);
      }, ms),
    );
  }

  /** The key failed: retry after its back-off, which doubles with each consecutive failure. */
  addRateLimited(key: string): number {
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    const delay = backoffDelay(failures, this.backoff);
    this.addAfter(key, delay);
    return delay;
  }

  /** The key succeeded: its back-off starts over. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** The next key, marked as in process; undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  shutDown(): void {
    this.stopped = true;
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }
}
