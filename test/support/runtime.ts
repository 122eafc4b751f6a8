import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createLogger,
  openRuntime,
  platformEnv,
  type RunningService,
  type Runtime,
  readEnv,
  type ServiceName,
  type StartService,
  serviceContext,
} from "../../services/kit/src/index.ts";
import { registerCleanup } from "./servers.ts";

export interface TestRuntimeOptions {
  databaseUrl?: string;
  redisUrl?: string;
  natsUrl?: string;
  /** Further variables, e.g. GAIA_AUTH_URL of a service started on a free port. */
  env?: Record<string, string>;
}

/**
 * A kit Runtime on the given servers (or on embedded defaults where none is given), with its data directory
 * in a fresh temporary folder. Logs are silent unless TEST_LOG_LEVEL is set.
 */
export async function testRuntime(options: TestRuntimeOptions = {}): Promise<Runtime> {
  const dataDir = await mkdtemp(join(tmpdir(), "gaia-test-"));
  registerCleanup(() => rm(dataDir, { recursive: true, force: true }));
  const env = readEnv(platformEnv, {
    GAIA_DATA_DIR: dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    ...(options.natsUrl ? { NATS_URL: options.natsUrl } : {}),
    ...options.env,
  });
  return openRuntime(env, createLogger("test", env.LOG_LEVEL));
}

/** Start a service on a free loopback port. */
export function startService(
  runtime: Runtime,
  name: ServiceName,
  start: StartService,
  port = 0,
): Promise<RunningService> {
  return start(serviceContext(runtime, name, { port, host: "127.0.0.1" }));
}
