import { randomUUID } from "node:crypto";
import {
  createApp,
  KB_CHANGED_SUBJECT,
  type RunningService,
  requireIdentity,
  runApp,
  type ServiceContext,
  type StartService,
} from "@gaia/kit";
import { type KbConfig, kbConfig } from "./config.ts";
import { KnowledgeBase } from "./knowledge.ts";
import { mountAdmin } from "./routes/admin.ts";
import { mountDocuments } from "./routes/documents.ts";
import { storageErrors } from "./routes/errors.ts";
import { DatabaseStore } from "./storage/database-store.ts";
import { GitStore } from "./storage/git-store.ts";
import { HybridStore } from "./storage/hybrid-store.ts";
import type { Store } from "./storage/types.ts";
import { KbStore } from "./store.ts";
import { startSync } from "./sync.ts";

/** The KB service with its configuration from the environment. */
export const start: StartService = (ctx) => startKb(ctx, kbConfig(process.env, ctx.env.GAIA_DATA_DIR));

/**
 * Wiring only. The service listens at once (/health answers) and is ready (/ready) when its storage is: a Git
 * clone can take a while, or wait for an unreachable remote, and Kubernetes should route to kb only once it can
 * answer, without restarting it meanwhile.
 */
export async function startKb(ctx: ServiceContext, config: KbConfig): Promise<RunningService> {
  const rules = new KbStore(ctx.db.prisma);
  const git = config.mode === "database" ? undefined : new GitStore(config, ctx.log, rules);
  const store: Store & { onChange: (paths: string[], head: string) => void } =
    config.mode === "database"
      ? new DatabaseStore(ctx.db.prisma)
      : config.mode === "hybrid"
        ? new HybridStore(git!, ctx.db.prisma, ctx.log)
        : git!;
  const replica = randomUUID();
  const kb = new KnowledgeBase({
    store,
    rules,
    cache: ctx.cache,
    bus: ctx.bus,
    config,
    log: ctx.log,
    replica,
  });
  store.onChange = (paths, head) => void kb.changed(paths, head);

  const sync = startSync({
    git,
    hybrid: store instanceof HybridStore ? store : undefined,
    config,
    log: ctx.log,
  });
  // Another replica changed the remote: bring it in now rather than at the next scheduled pull.
  const unsubscribe = ctx.bus.subscribe(KB_CHANGED_SUBJECT, (payload) => {
    if ((payload as { replica?: string })?.replica !== replica) sync.soon();
  });

  const { app } = createApp({
    name: "kb",
    log: ctx.log,
    database: ctx.db,
    notReady: () => store.notReady(),
    health: async () => ({
      mode: config.mode,
      storage: store.notReady() ?? "ready",
      cache: ctx.cache.healthy() ? "ok" : "degraded",
      bus: ctx.bus.healthy() ? "ok" : "degraded",
    }),
    routes(app) {
      app.use("/api", requireIdentity(ctx.verifyIdentity));
      mountDocuments(app, kb);
      mountAdmin(app, kb, rules);
      app.use(storageErrors);
    },
  });
  return runApp(ctx, app, async () => {
    unsubscribe();
    await sync.stop();
    await store.close();
  });
}
