import { readFile } from "node:fs/promises";
import {
  authnSealKey,
  BACKENDS,
  CREDENTIAL_REVOKED_SUBJECT,
  createApp,
  internalTokenFile,
  type RunningService,
  runApp,
  type ServiceContext,
  type StartService,
  serviceUrl,
} from "@gaia/kit";
import client from "prom-client";
import packageJson from "../package.json" with { type: "json" };
import { Authenticator } from "./authn.ts";
import { type GatewayConfig, loadGatewayConfig } from "./config.ts";
import { corsPolicy } from "./cors.ts";
import { checkBackends, summarize } from "./health.ts";
import { openApiDocument } from "./openapi.ts";
import { AuthClient } from "./providers/auth-client.ts";
import { Upstreams } from "./providers/upstream.ts";
import { RateLimiter } from "./ratelimit.ts";
import { ROUTES, type Target } from "./route-table.ts";
import { compileRoutes } from "./router.ts";
import { dispatcher } from "./routes/dispatch.ts";
import { localHandlers } from "./routes/local.ts";

const TARGETS: readonly Target[] = [...BACKENDS, "web"];

/**
 * GAIA_INTERNAL_TOKEN, else the one auth generated in the shared data directory (`gaia dev`, where auth starts
 * first). Looked for again while missing, so a gateway started before auth finds it once auth has written it.
 */
function internalTokenSource(config: GatewayConfig, dataDir: string): () => Promise<string | undefined> {
  let known = config.internalToken;
  return async () => {
    known ??= (await readFile(internalTokenFile(dataDir), "utf8").catch(() => "")).trim() || undefined;
    return known;
  };
}

export async function startGateway(ctx: ServiceContext, config: GatewayConfig): Promise<RunningService> {
  const urls = Object.fromEntries(TARGETS.map((target) => [target, serviceUrl(ctx.env, target)]));
  const upstreams = new Upstreams(urls as Record<Target, string>, ctx.log);
  const internalToken = internalTokenSource(config, ctx.env.GAIA_DATA_DIR);
  let sealKey: Buffer | undefined;
  let forgedSeen = 0;
  const forged = new client.Counter({
    name: "gaia_authn_cache_forged_total",
    help: "Shared-cache identity entries ignored because auth's seal did not verify",
    registers: [],
  });
  const authenticator = new Authenticator({
    cache: ctx.cache,
    client: new AuthClient({ pool: upstreams.pool("auth"), internalToken }),
    sealKey: async () => {
      const token = sealKey ? undefined : await internalToken();
      if (token) sealKey = authnSealKey(token);
      return sealKey;
    },
    onForged: () => {
      forged.inc();
      // Someone other than auth writes to the cache server: say so, without letting them flood the log.
      if (forgedSeen++ % 1000 === 0)
        ctx.log.warn({ total: forgedSeen }, "ignored a shared-cache identity that auth did not seal");
    },
    localTtlMs: config.identityCacheMs,
    revocations: ctx.revocations,
  });
  const unsubscribe = ctx.bus.subscribe(CREDENTIAL_REVOKED_SUBJECT, (payload) => {
    const hashes = (payload as { hashes?: unknown } | null)?.hashes;
    if (Array.isArray(hashes)) authenticator.revoke(hashes.filter((h): h is string => typeof h === "string"));
  });

  const health = async () =>
    summarize(
      await checkBackends(BACKENDS, (backend) => upstreams.health(backend, config.healthTimeoutMs)),
      { kind: ctx.cache.kind, healthy: ctx.cache.healthy() },
      { kind: ctx.bus.kind, healthy: ctx.bus.healthy() },
    );

  const { app, metrics } = createApp({
    name: "gateway",
    log: ctx.log,
    parseJson: false,
    trustProxy: config.trustedProxies,
    health,
    routes: (app) => {
      app.use(
        dispatcher({
          router: compileRoutes(ROUTES),
          cors: corsPolicy(config.corsOrigins),
          authenticator,
          limiter: new RateLimiter(ctx.cache, config.rateLimits),
          upstreams,
          internalToken,
          timeouts: config.timeouts,
          local: localHandlers({
            openapi: JSON.stringify(openApiDocument(ROUTES, packageJson.version)),
            health,
          }),
        }),
      );
    },
  });

  metrics.registry.registerMetric(forged);

  return runApp(ctx, app, async () => {
    unsubscribe();
    await upstreams.close();
  });
}

export const start: StartService = (ctx) => startGateway(ctx, loadGatewayConfig());
