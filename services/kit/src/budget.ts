import type { Db } from "./db/client.ts";
import { tooManyRequests } from "./errors.ts";
import type { Identity } from "./identity.ts";

/**
 * One monthly budget per user (GAIA_USER_BUDGET_USD) and one per API key (its `budget_usd`), covering everything
 * that costs money — chat's tokens and asset generation alike — summed from usage_records. Chat and asset both
 * ask here before they call a provider.
 */

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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * How long a key's budget setting is trusted without asking the database. Checking it is on every paid call's
 * path, and a budget is set far more rarely than it is checked; what was spent is always fresh.
 */
const KEY_BUDGET_TTL_MS = 10_000;

export class Budgets {
  readonly #db: Db;
  readonly #userBudgetUsd: number | null;
  readonly #keyBudgets = new Map<string, { at: number; budget: Promise<number | null> }>();

  constructor(db: Db, userBudgetUsd: number | null) {
    this.#db = db;
    this.#userBudgetUsd = userBudgetUsd;
  }

  /** Dollars spent since a moment, by a user or through one API key, in every service. */
  async spentSince(scope: { userId: string } | { apiKeyId: string }, since: Date): Promise<number> {
    const result = await this.#db.usageRecord.aggregate({
      where: { ...scope, createdAt: { gte: since } },
      _sum: { costUsd: true },
    });
    return Number(result._sum.costUsd ?? 0);
  }

  /** Through the api_key_budgets view: a service may read a key's limit, never the key table (its hashes). */
  async #readKeyBudget(apiKeyId: string): Promise<number | null> {
    if (!UUID.test(apiKeyId)) return null;
    const rows = await this.#db.$queryRaw<{ budget_usd: unknown }[]>`
      SELECT budget_usd FROM api_key_budgets WHERE id = ${apiKeyId}::uuid`;
    const budget = rows[0]?.budget_usd;
    return budget == null ? null : Number(budget);
  }

  /** A key's budget, read through a short cache. */
  keyBudget(keyId: string): Promise<number | null> {
    const cached = this.#keyBudgets.get(keyId);
    if (cached && Date.now() - cached.at < KEY_BUDGET_TTL_MS) return cached.budget;
    if (this.#keyBudgets.size > 10_000) this.#keyBudgets.clear();
    const budget = this.#readKeyBudget(keyId);
    this.#keyBudgets.set(keyId, { at: Date.now(), budget });
    budget.catch(() => this.#keyBudgets.delete(keyId));
    return budget;
  }

  async limits(identity: Identity, now = new Date()): Promise<Limits> {
    const since = monthStart(now);
    const [userSpent, keyBudget] = await Promise.all([
      this.spentSince({ userId: identity.userId }, since),
      identity.keyId ? this.keyBudget(identity.keyId) : Promise.resolve(null),
    ]);
    const keySpent = identity.keyId ? await this.spentSince({ apiKeyId: identity.keyId }, since) : 0;
    return {
      period: { start: since.toISOString(), resets_at: nextMonthStart(now).toISOString() },
      user: limit(this.#userBudgetUsd, userSpent),
      key: identity.keyId ? limit(keyBudget, keySpent) : null,
    };
  }

  /** What the caller may still spend this month: the smaller of their own and their key's; null is unlimited. */
  async remainingUsd(identity: Identity, now = new Date()): Promise<number | null> {
    const keyBudget = identity.keyId ? await this.keyBudget(identity.keyId) : null;
    if (keyBudget === null && this.#userBudgetUsd === null) return null;
    const limits = await this.limits(identity, now);
    const left = [limits.user.remaining_usd, limits.key?.remaining_usd ?? null].filter((v) => v !== null);
    return left.length ? Math.min(...left) : null;
  }

  /** Refuse with 429 when the caller's API key or the caller has spent this month's budget. */
  async assertWithinBudget(identity: Identity, now = new Date()): Promise<void> {
    const keyBudget = identity.keyId ? await this.keyBudget(identity.keyId) : null;
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
