import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunningService, Runtime } from "@gaia/kit";
import {
  startTestAuth,
  startTestGateway,
  type TestAuth,
  type TestGateway,
} from "../../../../test/support/platform.ts";
import { startService, testRuntime } from "../../../../test/support/runtime.ts";
import {
  asService,
  registerCleanup,
  type StoppableServer,
  sharedPostgres,
  startNats,
  startRedis,
} from "../../../../test/support/servers.ts";
import { issueKeyForEmail } from "../../../auth/src/bootstrap.ts";
import { assetConfig } from "../../src/config.ts";
import { startAsset } from "../../src/main.ts";

/**
 * The asset service as clients meet it: behind the real gateway, identities from the real auth service, on real
 * PostgreSQL, Redis and NATS (each with its own production credentials), calling provider servers that speak the
 * providers' wire formats.
 */

export const INTERNAL_TOKEN = "asset-test-internal-token-0123456789abcdef";

export interface AssetUser {
  userId: string;
  email: string;
  key: string;
}

export interface AssetPlatform {
  gateway: string;
  assetUrl: string;
  databaseUrl: string;
  nats: StoppableServer;
  storageDir: string;
  user(role?: "admin" | "developer" | "user" | "guest"): Promise<AssetUser>;
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers field by field.
  call<T = Record<string, any>>(
    user: AssetUser,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: T; headers: Headers }>;
  raw(user: AssetUser, path: string, headers?: Record<string, string>): Promise<Response>;
  /** Stop the asset service (gracefully, or as kill -9 would: no lease released) and start it again. */
  restartAsset(env?: Record<string, string>): Promise<void>;
  stopAsset(): Promise<void>;
  close(): Promise<void>;
}

export async function startAssetPlatform(
  options: { env?: Record<string, string> } = {},
): Promise<AssetPlatform> {
  const [databaseUrl, nats, redis] = await Promise.all([
    sharedPostgres().then((postgres) => postgres.createDatabase()),
    startNats(),
    startRedis(),
  ]);
  const storageDir = await mkdtemp(join(tmpdir(), "gaia-asset-files-"));
  registerCleanup(() => rm(storageDir, { recursive: true, force: true }));
  const auth: TestAuth = await startTestAuth({
    databaseUrl,
    redisUrl: redis.urlFor("auth"),
    natsUrl: nats.urlFor("auth"),
    internalToken: INTERNAL_TOKEN,
  });

  let runtime: Runtime | undefined;
  let service: RunningService | undefined;
  let port = 0;
  let env = options.env ?? {};
  const boot = async () => {
    runtime = await testRuntime({
      databaseUrl: asService(databaseUrl, "asset"),
      redisUrl: redis.urlFor("asset"),
      natsUrl: nats.urlFor("asset"),
      env: { GAIA_AUTH_URL: auth.url },
    });
    const config = assetConfig(
      {
        GAIA_ASSET_STORAGE_DIR: storageDir,
        GAIA_ASSET_POLL_MS: "50",
        GAIA_ASSET_RETRY_BASE_MS: "20",
        ...env,
      },
      runtime.env.GAIA_DATA_DIR,
    );
    service = await startService(runtime, "asset", (ctx) => startAsset(ctx, config), port);
    port = service.port;
  };
  await boot();

  const gateway: TestGateway = await startTestGateway({
    internalToken: INTERNAL_TOKEN,
    redisUrl: redis.urlFor("gateway"),
    natsUrl: nats.urlFor("gateway"),
    urls: { auth: auth.url, asset: service!.url },
    env: { GAIA_RATE_LIMIT_USER: "1000000", GAIA_RATE_LIMIT_ADMIN: "1000000" },
  });

  let users = 0;
  const platform: AssetPlatform = {
    gateway: gateway.url,
    get assetUrl() {
      return service!.url;
    },
    databaseUrl,
    nats,
    storageDir,
    async user(role = "user") {
      const email = `asset-${process.pid}-${Date.now()}-${++users}@example.com`;
      const issued = await issueKeyForEmail(auth.runtime.db.prisma, email, role, "asset tests");
      return { userId: issued.userId, email, key: issued.key };
    },
    async call(user, method, path, body, headers = {}) {
      const response = await fetch(`${gateway.url}${path}`, {
        method,
        headers: {
          "x-api-key": user.key,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : {};
      } catch {}
      return { status: response.status, body: parsed as never, headers: response.headers };
    },
    raw(user, path, headers = {}) {
      return fetch(`${gateway.url}${path}`, { headers: { "x-api-key": user.key, ...headers } });
    },
    async stopAsset() {
      await service?.close(200);
      await runtime?.close();
      service = undefined;
    },
    async restartAsset(nextEnv) {
      await platform.stopAsset();
      if (nextEnv) env = { ...env, ...nextEnv };
      await boot();
    },
    async close() {
      await gateway.close(200);
      await platform.stopAsset();
      await auth.close(200);
      await Promise.allSettled([nats.stop(), redis.stop()]);
    },
  };
  return platform;
}
