import type { Identity, Logger } from "@gaia/kit";
import { tooManyRequests } from "@gaia/kit";
import { costUsd, modelInfo, type ProviderKind } from "./catalogue.ts";
import type { ChatStore } from "./store.ts";
import type { Usage } from "./types.ts";

/** Budgets run per calendar month (UTC): spending starts again at zero on the first of each month. */
export function monthStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

export function nextMonthStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}

export interface Limit {
  budget_usd: number | null;
  spent_usd: number;
  remaining_usd: number | null;
}

export interface Limits {
  period: { start: string; resets_at: string };
  user: Limit;
  key: Limit | null;
}

const round6 = (n: number) => Math.round(n * 1e6) / 1e6;
const limit = (budget: number | null, spent: number): Limit => ({
  budget_usd: budget,
  spent_usd: round6(spent),
  remaining_usd: budget === null ? null : round6(Math.max(0, budget - spent)),
});

const PRICING_TTL_MS = 60_000;
/**
 * How long a key's budget setting is trusted without asking the database. Checking it is on every chat's path
 * to the first token, and a budget is set far more rarely than it is checked; what was spent is always fresh.
 */
const KEY_BUDGET_TTL_MS = 10_000;

/** Prices, usage records and budgets: what a call cost, who paid, and whether there is money left. */
export class Accounting {
  readonly #store: ChatStore;
  readonly #userBudgetUsd: number | null;
  readonly #log: Logger;
  #overrides:
    | { at: number; prices: Promise<Map<string, { inputPer1M: number; outputPer1M: number }>> }
    | undefined;
  readonly #keyBudgets = new Map<string, { at: number; budget: Promise<number | null> }>();

  constructor(store: ChatStore, userBudgetUsd: number | null, log: Logger) {
    this.#store = store;
    this.#userBudgetUsd = userBudgetUsd;
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

  /** A key's budget, read through a short cache. */
  #keyBudget(keyId: string): Promise<number | null> {
    const cached = this.#keyBudgets.get(keyId);
    if (cached && Date.now() - cached.at < KEY_BUDGET_TTL_MS) return cached.budget;
    if (this.#keyBudgets.size > 10_000) this.#keyBudgets.clear();
    const budget = this.#store.keyBudget(keyId);
    this.#keyBudgets.set(keyId, { at: Date.now(), budget });
    budget.catch(() => this.#keyBudgets.delete(keyId));
    return budget;
  }

  async limits(identity: Identity, now = new Date()): Promise<Limits> {
    const since = monthStart(now);
    const [userSpent, keyBudget] = await Promise.all([
      this.#store.spentSince({ userId: identity.userId }, since),
      identity.keyId ? this.#keyBudget(identity.keyId) : Promise.resolve(null),
    ]);
    const keySpent = identity.keyId ? await this.#store.spentSince({ apiKeyId: identity.keyId }, since) : 0;
    return {
      period: { start: since.toISOString(), resets_at: nextMonthStart(now).toISOString() },
      user: limit(this.#userBudgetUsd, userSpent),
      key: identity.keyId ? limit(keyBudget, keySpent) : null,
    };
  }

  /** Refuse with 429 when the caller's API key or the caller has spent this month's budget. */
  async assertWithinBudget(identity: Identity, now = new Date()): Promise<void> {
    const keyBudget = identity.keyId ? await this.#keyBudget(identity.keyId) : null;
    if (keyBudget === null && this.#userBudgetUsd === null) return;
    const limits = await this.limits(identity, now);
    const retryAfter = (nextMonthStart(now).getTime() - now.getTime()) / 1000;
    const resets = nextMonthStart(now).toISOString().slice(0, 10);
    if (limits.key && limits.key.budget_usd !== null && limits.key.spent_usd >= limits.key.budget_usd) {
      throw tooManyRequests(
        `This API key's monthly budget of $${limits.key.budget_usd} is spent ($${limits.key.spent_usd} used); it resets on ${resets}`,
        retryAfter,
      );
    }
    if (limits.user.budget_usd !== null && limits.user.spent_usd >= limits.user.budget_usd) {
      throw tooManyRequests(
        `Your monthly budget of $${limits.user.budget_usd} is spent ($${limits.user.spent_usd} used); it resets on ${resets}`,
        retryAfter,
      );
    }
  }
}
