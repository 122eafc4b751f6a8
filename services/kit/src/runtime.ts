import { type Bus, createBus } from "./bus.ts";
import { type Cache, createCache } from "./cache.ts";
import type { PlatformEnv } from "./config.ts";
import { type Database, databaseTarget, openDatabase } from "./db/client.ts";
import { MetricsHub } from "./http/metrics.ts";
import { type IdentityVerifier, remoteIdentityVerifier } from "./identity.ts";
import type { Logger } from "./log.ts";
import { type ServiceName, servicePort, serviceUrl } from "./registry.ts";

/**
 * What the services of one process share: configuration, database, cache, event bus. In `gaia dev` all six
 * services share one runtime; `gaia serve NAME` opens one for one service.
 */
export interface Runtime {
  env: PlatformEnv;
  log: Logger;
  db: Database;
  cache: Cache;
  bus: Bus;
  /** The metrics of every service in this process, served on GAIA_METRICS_PORT by the CLI. */
  metrics: MetricsHub;
  /** Verifies X-Gaia-Identity against auth's JWKS (fetched lazily, cached). */
  verifyIdentity: IdentityVerifier;
  close(): Promise<void>;
}

export async function openRuntime(env: PlatformEnv, log: Logger): Promise<Runtime> {
  const db = await openDatabase(databaseTarget(env));
  const cache = createCache(env.REDIS_URL, log.child({ component: "cache" }));
  const bus = createBus(env.NATS_URL, log.child({ component: "bus" }));
  // Resolved at first use, so a test may start auth on a free port and set GAIA_AUTH_URL afterwards.
  let verifier: IdentityVerifier | undefined;
  const verifyIdentity: IdentityVerifier = (token) => {
    verifier ??= remoteIdentityVerifier(`${serviceUrl(env, "auth")}/.well-known/jwks.json`);
    return verifier(token);
  };
  return {
    env,
    log,
    db,
    cache,
    bus,
    metrics: new MetricsHub(),
    verifyIdentity,
    async close() {
      await Promise.allSettled([bus.close(), cache.close()]);
      await db.close();
    },
  };
}

/** One service inside a runtime. */
export interface ServiceContext extends Runtime {
  name: ServiceName;
  port: number;
  host: string;
}

export function serviceContext(
  runtime: Runtime,
  name: ServiceName,
  overrides: { port?: number; host?: string } = {},
): ServiceContext {
  return {
    ...runtime,
    name,
    log: runtime.log.child({ service: name }),
    port: overrides.port ?? servicePort(runtime.env, name),
    host: overrides.host ?? "0.0.0.0",
  };
}

export interface RunningService {
  name: ServiceName;
  url: string;
  port: number;
  /** Stop this service's server and its own resources; the shared runtime is closed by its owner. */
  close(deadlineMs?: number): Promise<void>;
}

export type StartService = (ctx: ServiceContext) => Promise<RunningService>;
