import { randomUUID } from "node:crypto";
import {
  Budgets,
  createApp,
  type RunningService,
  requireIdentity,
  runApp,
  type ServiceContext,
  type StartService,
} from "@gaia/kit";
import { type AssetConfig, assetConfig } from "./config.ts";
import { FileStore } from "./files.ts";
import { Generation } from "./generation.ts";
import { JobRunner } from "./jobs.ts";
import { PriceBook } from "./prices.ts";
import { buildProviders } from "./providers/registry.ts";
import { mountAssets } from "./routes/assets.ts";
import { mountPricing } from "./routes/pricing.ts";
import { mountWebhooks } from "./routes/webhooks.ts";
import { AssetStore } from "./store.ts";
import { Webhooks } from "./webhooks.ts";

/** The asset service with its configuration from the environment. */
export const start: StartService = (ctx) => startAsset(ctx, assetConfig(process.env, ctx.env.GAIA_DATA_DIR));

/** Wiring only: settings in, service out. */
export async function startAsset(ctx: ServiceContext, config: AssetConfig): Promise<RunningService> {
  const store = new AssetStore(ctx.db.prisma);
  const files = new FileStore(config.storageDir);
  const providers = buildProviders(config);
  const prices = new PriceBook(store);
  const runner = new JobRunner({
    store,
    files,
    providers: new Map(providers.map((p) => [p.id, p])),
    prices,
    bus: ctx.bus,
    log: ctx.log,
    config,
    replica: randomUUID(),
  });
  const webhooks = new Webhooks({ db: ctx.db.prisma, config, log: ctx.log });
  runner.onFinished = (jobId) => webhooks.fire(jobId);
  const generation = new Generation({
    store,
    providers,
    prices,
    budgets: new Budgets(ctx.db.prisma, config.userBudgetUsd),
    runner,
    config,
  });
  if (providers.every((p) => p.offline)) {
    ctx.log.info("no asset provider is configured: assets are made by the offline placeholder provider");
  }

  const { app } = createApp({
    name: "asset",
    log: ctx.log,
    database: ctx.db,
    health: () => ({
      providers: providers.map((p) => p.id),
      offline: providers.every((p) => p.offline),
      bus: ctx.bus.healthy() ? "ok" : "degraded",
    }),
    routes(app) {
      // The first platform's unauthenticated test endpoint.
      app.get("/api/v1/assets/test", (_req, res) => {
        res.json({ status: "ok", service: "asset", providers: providers.map((p) => p.id) });
      });
      app.use("/api", requireIdentity(ctx.verifyIdentity));
      mountPricing(app, { store, prices, providers, generation });
      // Before mountAssets: its /api/v1/assets/:id routes would take /api/v1/assets/webhooks/...
      mountWebhooks(app, { store, webhooks });
      mountAssets(app, { store, files, generation, runner, waitMs: config.waitMs });
    },
  });
  runner.start();
  return runApp(ctx, app, async () => {
    await runner.stop();
    await webhooks.stop();
  });
}
