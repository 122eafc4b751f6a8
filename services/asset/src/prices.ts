import type { PriceOf } from "./providers/types.ts";
import type { AssetStore } from "./store.ts";

/** The deployment's price overrides (provider_pricing rows `type:quality`), read through a short cache. */

const TTL_MS = 30_000;

export class PriceBook {
  readonly #store: AssetStore;
  #cached: { at: number; prices: Promise<Map<string, number>> } | undefined;

  constructor(store: AssetStore) {
    this.#store = store;
  }

  async priceOf(): Promise<PriceOf> {
    if (!this.#cached || Date.now() - this.#cached.at > TTL_MS) {
      const prices = this.#store.priceOverrides().catch(() => new Map<string, number>());
      this.#cached = { at: Date.now(), prices };
    }
    const prices = await this.#cached.prices;
    return (provider, type, quality) => prices.get(`${provider}/${type}:${quality}`);
  }

  forget() {
    this.#cached = undefined;
  }
}
