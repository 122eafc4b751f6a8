import {
  Budgets,
  createApp,
  type RunningService,
  requireIdentity,
  runApp,
  type ServiceContext,
  type StartService,
} from "@gaia/kit";
import { ChatService } from "./chat.ts";
import { type ChatConfig, chatConfig } from "./config.ts";
import { KbTools } from "./kb.ts";
import { buildProviders } from "./providers/registry.ts";
import { ModelRouter } from "./router.ts";
import { mountCatalogue } from "./routes/catalogue.ts";
import { mountChat, mountInfo } from "./routes/chat.ts";
import { mountCompletions } from "./routes/completions.ts";
import { mountConversations } from "./routes/conversations.ts";
import { mountPersonas } from "./routes/personas.ts";
import { mountUsage } from "./routes/usage.ts";
import { ProviderStats } from "./stats.ts";
import { ChatStore } from "./store.ts";
import { Accounting } from "./usage.ts";

/** The chat service with its configuration from the environment. */
export const start: StartService = (ctx) => startChat(ctx, chatConfig());

/** The chat service with a given configuration (tests point it at their own provider servers). */
export async function startChat(ctx: ServiceContext, config: ChatConfig): Promise<RunningService> {
  const stats = new ProviderStats();
  const providers = buildProviders(config);
  const router = new ModelRouter(providers, config, stats, ctx.log);
  const store = new ChatStore(ctx.db.prisma);
  const accounting = new Accounting(store, new Budgets(ctx.db.prisma, config.userBudgetUsd), ctx.log);
  const chat = new ChatService({
    store,
    router,
    accounting,
    kb: new KbTools(ctx.env),
    bus: ctx.bus,
    log: ctx.log,
    historyLimit: config.historyLimit,
    kbTools: config.kbTools,
  });
  // Seeded now when the database answers, else on the first turn that needs it.
  await store
    .ensureDefaultPersona()
    .catch((error) => ctx.log.warn({ err: String(error) }, "default persona not seeded yet"));
  const defaultModel = router.resolve(null);
  if (defaultModel.provider === "offline") {
    ctx.log.info("no LLM provider is configured: chat answers with the offline echo model");
  }

  const { app } = createApp({
    name: "chat",
    log: ctx.log,
    database: ctx.db,
    health: () => ({
      default_model: `${defaultModel.provider}/${defaultModel.model}`,
      providers: config.providers.map((p) => p.id),
      offline: defaultModel.provider === "offline",
      bus: ctx.bus.healthy() ? "up" : "degraded",
    }),
    routes(app) {
      mountInfo(app, { version: "0.2", defaultModel: `${defaultModel.provider}/${defaultModel.model}` });
      // Every other chat route acts for a user the gateway vouched for.
      app.use("/api", requireIdentity(ctx.verifyIdentity));
      mountCompletions(app, { router, accounting, config, bus: ctx.bus, log: ctx.log });
      mountCatalogue(app, { config, router, providers, stats, accounting });
      mountPersonas(app, store, chat);
      mountChat(app, { chat, store, bus: ctx.bus, log: ctx.log });
      mountConversations(app, store);
      mountUsage(app, store, accounting);
    },
  });
  return runApp(ctx, app);
}
