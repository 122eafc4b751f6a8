import { createApp, type RunningService, runApp, type ServiceContext, type StartService } from "@gaia/kit";
import { createAuthCore } from "./core.ts";
import { internalRoutes } from "./routes/internal.ts";
import { keyRoutes } from "./routes/keys.ts";
import { sessionRoutes } from "./routes/sessions.ts";
import { userRoutes } from "./routes/users.ts";
import { wellKnownRoutes } from "./routes/wellknown.ts";
import { type AuthSettings, loadAuthSettings } from "./settings.ts";

export const start: StartService = (ctx) => startAuth(ctx, loadAuthSettings({ ...process.env, ...ctx.env }));

/** Wiring only: settings in, service out. */
export async function startAuth(ctx: ServiceContext, settings: AuthSettings): Promise<RunningService> {
  const db = ctx.db.prisma;
  const core = await createAuthCore(
    { db, cache: ctx.cache, bus: ctx.bus, log: ctx.log, revocations: ctx.revocations },
    settings,
  );
  ctx.useIssuerKeys((header) => core.keys.resolve(header));
  const { verifyIdentity } = core;

  const { app } = createApp({
    name: "auth",
    log: ctx.log,
    health: () => ({
      cache: ctx.cache.healthy() ? "ok" : "degraded",
      bus: ctx.bus.healthy() ? "ok" : "degraded",
    }),
    ready: async () => {
      try {
        await db.$queryRaw`SELECT 1`;
        return true;
      } catch {
        return false;
      }
    },
    routes(app) {
      app.use(wellKnownRoutes(core.keys));
      // Token and identity answers must not be kept by any intermediary.
      app.use((_req, res, next) => {
        res.setHeader("Cache-Control", "no-store");
        next();
      });
      app.use(sessionRoutes({ sessions: core.sessions, db, verifyIdentity }));
      app.use(keyRoutes({ keys: core.keyManager, verifyIdentity }));
      app.use(userRoutes({ admin: core.admin, verifyIdentity }));
      app.use(
        internalRoutes({
          authenticator: core.authenticator,
          keys: core.keys,
          internalToken: core.internalToken,
        }),
      );
    },
  });

  try {
    return await runApp(ctx, app, () => core.stop());
  } catch (error) {
    await core.stop();
    throw error;
  }
}
