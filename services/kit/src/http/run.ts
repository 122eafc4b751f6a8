import type { Express } from "express";
import type { Registry } from "prom-client";
import type { RunningService, ServiceContext } from "../runtime.ts";
import { listen } from "./serve.ts";

/** Listen on the service's port; closing stops the server gracefully, then releases the service's own resources. */
export async function runApp(
  ctx: ServiceContext,
  app: Express,
  release?: () => Promise<void>,
): Promise<RunningService> {
  const listening = await listen(app, ctx.port, ctx.log, ctx.host);
  const registry = app.locals.metricsRegistry as Registry | undefined;
  const unregister = registry ? ctx.metrics.add(registry) : () => {};
  return {
    name: ctx.name,
    url: listening.url,
    port: listening.port,
    async close(deadlineMs = ctx.env.GAIA_SHUTDOWN_TIMEOUT_MS) {
      await listening.close(deadlineMs);
      unregister();
      await release?.();
    },
  };
}
