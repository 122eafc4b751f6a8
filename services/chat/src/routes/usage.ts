import { identityOf, monthStart, nextMonthStart, parseInput } from "@gaia/kit";
import type { Express } from "express";
import { z } from "zod";
import type { ChatStore, UsageTotals } from "../store.ts";
import type { Accounting } from "../usage.ts";

const totalsView = (t: UsageTotals) => ({
  requests: t.requests,
  prompt_tokens: t.promptTokens,
  completion_tokens: t.completionTokens,
  total_tokens: t.promptTokens + t.completionTokens,
  cost_usd: Math.round(t.costUsd * 1e6) / 1e6,
});

const sum = (rows: UsageTotals[]): UsageTotals =>
  rows.reduce(
    (a, r) => ({
      requests: a.requests + r.requests,
      promptTokens: a.promptTokens + r.promptTokens,
      completionTokens: a.completionTokens + r.completionTokens,
      costUsd: a.costUsd + r.costUsd,
    }),
    { requests: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 },
  );

export const historyQuery = z.object({ days: z.coerce.number().int().min(1).max(366).default(30) });

/** Token usage and spending of the caller (and of the API key they called with), and their budgets. */
export function mountUsage(app: Express, store: ChatStore, accounting: Accounting) {
  app.get("/api/v0.2/usage/current", async (_req, res) => {
    const identity = identityOf(res.locals);
    const now = new Date();
    const since = monthStart(now);
    const until = nextMonthStart(now);
    const [byModel, byKey] = await Promise.all([
      store.usageByModel({ userId: identity.userId }, since, until),
      identity.keyId ? store.usageByModel({ apiKeyId: identity.keyId }, since, until) : Promise.resolve(null),
    ]);
    res.json({
      period: { start: since.toISOString(), end: until.toISOString() },
      totals: totalsView(sum(byModel)),
      by_model: byModel.map((m) => ({ provider: m.provider, model: m.model, ...totalsView(m) })),
      api_key: identity.keyId && byKey ? { id: identity.keyId, totals: totalsView(sum(byKey)) } : null,
    });
  });

  app.get("/api/v0.2/usage/history", async (req, res) => {
    const identity = identityOf(res.locals);
    const { days } = parseInput(historyQuery, req.query);
    const today = new Date();
    const since = new Date(
      Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - (days - 1)),
    );
    const rows = await store.usageByDay(identity.userId, since);
    res.json({
      since: since.toISOString(),
      days: rows.map((r) => ({ date: r.day, ...totalsView(r) })),
      totals: totalsView(sum(rows)),
    });
  });

  app.get("/api/v0.2/usage/limits", async (_req, res) => {
    res.json(await accounting.limits(identityOf(res.locals)));
  });
}
