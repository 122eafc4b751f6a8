import { startAuth } from "../../services/auth/src/main.ts";
import { type AuthSettings, loadAuthSettings } from "../../services/auth/src/settings.ts";
import { loadGatewayConfig } from "../../services/gateway/src/config.ts";
import { startGateway } from "../../services/gateway/src/main.ts";
import type { RunningService, Runtime } from "../../services/kit/src/index.ts";
import { startService, testRuntime } from "./runtime.ts";
import { asService, freePort, sharedPostgres } from "./servers.ts";

/**
 * The services every other one sits behind, started for tests: auth and the gateway, each on a runtime of its
 * own (as separate processes would have) and on a free port.
 */

export interface TestAuth {
  url: string;
  runtime: Runtime;
  service: RunningService;
  settings: AuthSettings;
  /** Stops the service, waiting up to `graceMs` for requests in flight, then its runtime. */
  close(graceMs?: number): Promise<void>;
}

/** Auth on the given database (and Redis and NATS, else embedded defaults). */
export async function startTestAuth(options: {
  databaseUrl: string;
  redisUrl?: string;
  natsUrl?: string;
  internalToken: string;
  /** Further auth settings (GAIA_*). */
  env?: Record<string, string>;
}): Promise<TestAuth> {
  const runtime = await testRuntime({
    // Auth's own role, as in production, on the database the test made.
    databaseUrl: asService(options.databaseUrl, "auth"),
    redisUrl: options.redisUrl,
    natsUrl: options.natsUrl,
  });
  const settings = loadAuthSettings({
    GAIA_DATA_DIR: runtime.env.GAIA_DATA_DIR,
    GAIA_INTERNAL_TOKEN: options.internalToken,
    ...options.env,
  });
  const service = await startService(runtime, "auth", (ctx) => startAuth(ctx, settings));
  return {
    url: service.url,
    runtime,
    service,
    settings,
    async close(graceMs = 1000) {
      await service.close(graceMs);
      await runtime.close();
    },
  };
}

export interface TestGateway {
  url: string;
  runtime: Runtime;
  close(graceMs?: number): Promise<void>;
}

/** A gateway in front of the given services; any service not given is a closed port. */
export async function startTestGateway(options: {
  internalToken: string;
  redisUrl?: string;
  natsUrl?: string;
  urls: Partial<Record<"auth" | "chat" | "kb" | "asset" | "web", string>>;
  /** Further gateway settings (GAIA_*). */
  env?: Record<string, string>;
}): Promise<TestGateway> {
  const closed = `http://127.0.0.1:${await freePort()}`;
  const urls = { auth: closed, chat: closed, kb: closed, asset: closed, web: closed, ...options.urls };
  const runtime = await testRuntime({
    // The gateway keeps no data; a PostgreSQL URL (never queried) spares it opening an embedded database.
    databaseUrl: (await sharedPostgres()).adminUrl,
    redisUrl: options.redisUrl,
    natsUrl: options.natsUrl,
    env: {
      GAIA_AUTH_URL: urls.auth,
      GAIA_CHAT_URL: urls.chat,
      GAIA_KB_URL: urls.kb,
      GAIA_ASSET_URL: urls.asset,
      GAIA_WEB_URL: urls.web,
    },
  });
  const config = loadGatewayConfig({ GAIA_INTERNAL_TOKEN: options.internalToken, ...options.env });
  const service = await startService(runtime, "gateway", (ctx) => startGateway(ctx, config));
  return {
    url: service.url,
    runtime,
    async close(graceMs = 1000) {
      await service.close(graceMs);
      await runtime.close();
    },
  };
}
