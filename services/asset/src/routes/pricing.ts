import { identityOf, parseInput, requirePermission, unprocessable } from "@gaia/kit";
import { generateBody, pricingUpdateBody } from "@gaia/kit/contracts/asset";
import type { Express } from "express";
import type { Generation } from "../generation.ts";
import type { PriceBook } from "../prices.ts";
import { ASSET_TYPES, type AssetProvider, QUALITIES } from "../providers/types.ts";
import type { AssetStore } from "../store.ts";

/** /api/v0.2/assets/pricing: current prices, the cost estimator, analytics, and (admins) price updates. */

const BASE = "/api/v0.2/assets/pricing";

export function mountPricing(
  app: Express,
  deps: { store: AssetStore; prices: PriceBook; providers: readonly AssetProvider[]; generation: Generation },
) {
  const { store, prices, providers, generation } = deps;

  app.get(`${BASE}/current`, async (_req, res) => {
    const price = await prices.priceOf();
    const table = providers.flatMap((p) =>
      ASSET_TYPES.filter((t) => p.capabilities.types.includes(t)).flatMap((type) =>
        QUALITIES.map((quality) => {
          const override = price(p.id, type, quality);
          return {
            provider: p.id,
            type,
            quality,
            price_usd: p.estimateUsd({ type, prompt: "", quality }, price),
            source: override === undefined ? "list" : "override",
            ...(p.offline ? { offline_placeholder: true } : {}),
          };
        }),
      ),
    );
    res.json({ currency: "USD", prices: table });
  });

  app.post(`${BASE}/cost-estimator/estimate`, async (req, res) => {
    const body = parseInput(generateBody, req.body ?? {});
    res.json(await generation.estimate(identityOf(res.locals), body));
  });

  app.get(`${BASE}/analytics`, async (req, res) => {
    const { userId } = identityOf(res.locals);
    const days = typeof req.query.days === "string" ? Number(req.query.days) : 30;
    if (!Number.isInteger(days) || days < 1 || days > 366)
      throw unprocessable("days: a whole number from 1 to 366");
    const since = new Date(Date.now() - days * 86_400_000);
    const { spend, strategies } = await store.analytics(userId, since);
    const requests = Object.values(strategies).reduce((a, b) => a + b, 0);
    const byProvider: Record<string, number> = {};
    const byType: Record<string, number> = {};
    for (const row of spend) {
      byProvider[row.provider] = (byProvider[row.provider] ?? 0) + row.cost_usd;
      byType[row.type!] = (byType[row.type!] ?? 0) + row.cost_usd;
    }
    res.json({
      since: since.toISOString(),
      total_usd: spend.reduce((a, r) => a + r.cost_usd, 0),
      by_provider: byProvider,
      by_type: byType,
      by_day: spend,
      requests,
      strategies,
      cache_hit_rate:
        requests === 0
          ? 0
          : Number((((strategies.cache ?? 0) + (strategies.reuse ?? 0)) / requests).toFixed(3)),
    });
  });

  app.post(`${BASE}/update`, requirePermission("admin:all"), async (req, res) => {
    const body = parseInput(pricingUpdateBody, req.body ?? {});
    const provider = providers.find((p) => p.id === body.provider);
    if (!provider) throw unprocessable(`provider: one of ${providers.map((p) => p.id).join(", ")}`);
    if (!provider.capabilities.types.includes(body.type)) {
      throw unprocessable(`type: ${body.provider} makes ${provider.capabilities.types.join(", ")}`);
    }
    await store.setPrice(body.provider, `${body.type}:${body.quality}`, body.price_usd);
    prices.forget();
    res.json({ updated: true, ...body });
  });
}
