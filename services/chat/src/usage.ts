import type { Budgets, Identity, Limits, Logger } from "@gaia/kit";
import { costUsd, modelInfo, type ProviderKind } from "./catalogue.ts";
import type { ChatStore } from "./store.ts";
import type { Usage } from "./types.ts";

const PRICING_TTL_MS = 60_000;

/** Prices, usage records and budgets: what a call cost, who paid, and whether there is money left. */
export class Accounting {
  readonly #store: ChatStore;
  readonly #budgets: Budgets;
  readonly #log: Logger;
  #overrides:
    | { at: number; prices: Promise<Map<string, { inputPer1M: number; outputPer1M: number }>> }
    | undefined;

  constructor(store: ChatStore, budgets: Budgets, log: Logger) {
    this.#store = store;
    this.#budgets = budgets;
    this.#log = log;
  }

  /** The price of a model: the deployment's override from provider_pricing, else the catalogue's. */
  async pricing(provider: ProviderKind, model: string) {
    if (!this.#overrides || Date.now() - this.#overrides.at > PRICING_TTL_MS) {
      const prices = this.#store.pricingOverrides().catch((error) => {
        this.#log.warn({ err: String(error) }, "price overrides unavailable; using catalogue prices");
        return new Map();
      });
      this.#overrides = { at: Date.now(), prices };
    }
    return (await this.#overrides.prices).get(`${provider}/${model}`) ?? modelInfo(provider, model).pricing;
  }

  async cost(provider: ProviderKind, model: string, usage: Usage): Promise<number> {
    return costUsd(await this.pricing(provider, model), usage);
  }

  /** Record what a call cost and answer the cost in dollars. */
  async record(identity: Identity, provider: ProviderKind, model: string, usage: Usage): Promise<number> {
    const cost = await this.cost(provider, model, usage);
    await this.#store.recordUsage({
      userId: identity.userId,
      apiKeyId: identity.keyId ?? null,
      provider,
      model,
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
      costUsd: cost,
    });
    return cost;
  }

  limits(identity: Identity, now = new Date()): Promise<Limits> {
    return this.#budgets.limits(identity, now);
  }

  /** Refuse with 429 when the caller's API key or the caller has spent this month's budget (chat and assets). */
  assertWithinBudget(identity: Identity, now = new Date()): Promise<void> {
    return this.#budgets.assertWithinBudget(identity, now);
  }
}
