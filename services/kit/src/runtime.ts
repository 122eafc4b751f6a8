import type { JWTVerifyGetKey } from "jose";
import { type Bus, createBus } from "./bus.ts";
import { type Cache, createCache } from "./cache.ts";
import type { PlatformEnv } from "./config.ts";
import { type Database, databaseTarget, openDatabase } from "./db/client.ts";
import { MetricsHub } from "./http/metrics.ts";
import { type IdentityVerifier, identityVerifier, remoteKeys } from "./identity.ts";
import type { Logger } from "./log.ts";
import { type ServiceName, servicePort, serviceUrl } from "./registry.ts";
import { followRevocations, RevocationList } from "./revocation.ts";

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
  /** Verifies X-Gaia-Identity against auth's keys (its JWKS, fetched lazily and cached) and its revocations. */
  verifyIdentity: IdentityVerifier;
  /** What auth revoked after issuing tokens (revocation.ts), followed on the bus from the moment this opens. */
  revocations: RevocationList;
  /**
   * Auth, when it runs in this process, lends its keys: tokens and revocations are then checked against them
   * directly, not through its JWKS URL, which auth itself may have no route to (the mesh allows it no such call).
   */
  useIssuerKeys(keys: JWTVerifyGetKey): void;
  close(): Promise<void>;
}

export async function openRuntime(env: PlatformEnv, log: Logger): Promise<Runtime> {
  const db = await openDatabase(databaseTarget(env));
  const cache = createCache(env.REDIS_URL, log.child({ component: "cache" }));
  const bus = createBus(env.NATS_URL, log.child({ component: "bus" }));
  let local: JWTVerifyGetKey | undefined;
  let remote: JWTVerifyGetKey | undefined;
  // Resolved at first use, so a test may start auth on a free port and set GAIA_AUTH_URL afterwards.
  const issuerKeys: JWTVerifyGetKey = (header, token) => {
    if (local) return local(header, token);
    remote ??= remoteKeys(`${serviceUrl(env, "auth")}/.well-known/jwks.json`);
    return remote(header, token);
  };
  const revocationLog = log.child({ component: "revocations" });
  const revocations = new RevocationList({ log: revocationLog });
  // From the start, not at the first request: a token revoked before that request must be refused too.
  const unfollow = followRevocations(bus, revocations, issuerKeys, revocationLog);
  return {
    env,
    log,
    db,
    cache,
    bus,
    metrics: new MetricsHub(),
    verifyIdentity: identityVerifier(issuerKeys, revocations),
    revocations,
    useIssuerKeys(keys) {
      local = keys;
    },
    async close() {
      unfollow();
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
    host: overrides.host ?? runtime.env.GAIA_BIND,
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
