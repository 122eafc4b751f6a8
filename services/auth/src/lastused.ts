import type { Logger } from "@gaia/kit";
import type { Db } from "@gaia/kit/db/client";
import { writeLastUsed } from "./repo/apikeys.ts";

/**
 * "Last used" of API keys without a database write per request: uses are noted in memory and written in
 * one statement every few seconds (and at shutdown). A failed write keeps the times for the next round.
 */
export class LastUsedBuffer {
  readonly #db: Db;
  readonly #log: Logger;
  #buffer = new Map<string, Date>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  constructor(db: Db, log: Logger) {
    this.#db = db;
    this.#log = log;
  }

  touch(keyId: string, at = new Date()): void {
    const known = this.#buffer.get(keyId);
    if (!known || known < at) this.#buffer.set(keyId, at);
  }

  /** A use not yet written, so a listing can show it. */
  pending(keyId: string): Date | undefined {
    return this.#buffer.get(keyId);
  }

  flush(): Promise<void> {
    this.#flushing ??= this.#write().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #write() {
    if (this.#buffer.size === 0) return;
    const batch = this.#buffer;
    this.#buffer = new Map();
    try {
      await writeLastUsed(this.#db, batch);
    } catch (error) {
      this.#log.warn({ err: String(error), keys: batch.size }, "last-used times not written; kept for later");
      for (const [id, at] of batch) this.touch(id, at);
    }
  }

  start(intervalMs: number): void {
    this.#timer ??= setInterval(() => void this.flush(), intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}
