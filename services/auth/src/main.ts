import {
  CLIENT_ADDRESS_HEADER,
  createApp,
  INTERNAL_TOKEN_HEADER,
  internalTokenMatcher,
  type RunningService,
  runApp,
  type ServiceContext,
  type StartService,
} from "@gaia/kit";
import type { RequestHandler } from "express";
import { createAuthCore } from "./core.ts";
import { internalRoutes } from "./routes/internal.ts";
import { keyRoutes } from "./routes/keys.ts";
import { sessionRoutes } from "./routes/sessions.ts";
import { userRoutes } from "./routes/users.ts";
import { wellKnownRoutes } from "./routes/wellknown.ts";
import { type AuthSettings, loadAuthSettings } from "./settings.ts";

export const start: StartService = (ctx) => startAuth(ctx, loadAuthSettings({ ...process.env, ...ctx.env }));

/**
 * The gateway names the client's address beside the internal token; from anyone else the header is ignored, so
 * a caller who reaches auth directly is limited by its own address.
 */
function clientAddress(internalToken: string): RequestHandler {
  const isGateway = internalTokenMatcher(internalToken);
  return (req, res, next) => {
    const named = req.get(CLIENT_ADDRESS_HEADER);
    if (named && isGateway(req.get(INTERNAL_TOKEN_HEADER))) res.locals.clientAddress = named;
    next();
  };
}

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
    database: ctx.db,
    routes(app) {
      app.use(clientAddress(core.internalToken));
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
