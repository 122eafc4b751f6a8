import { execFileSync } from "node:child_process";
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
import { kbConfig, type StorageMode } from "../../src/config.ts";
import { startKb } from "../../src/main.ts";

/**
 * The KB as clients meet it: behind the real gateway, identities from the real auth service, on real PostgreSQL,
 * Redis and NATS (each service with its own production credentials), over real git with a local bare remote.
 * `replicas` KB instances share that remote, each with its own clone and its own gateway in front.
 */

export const INTERNAL_TOKEN = "kb-test-internal-token-0123456789abcdef";

export interface KbUser {
  userId: string;
  email: string;
  key: string;
}

export interface Answer<T> {
  status: number;
  body: T;
  headers: Headers;
}

export interface KbPlatform {
  /** One gateway per replica, in order. */
  gateways: string[];
  kbUrls: string[];
  kbRuntimes: Runtime[];
  /** The bare remote every replica clones (absent with `remote: false`). */
  remote?: string;
  databaseUrl: string;
  nats: StoppableServer;
  user(role?: "admin" | "developer" | "user" | "guest"): Promise<KbUser>;
  /** A JSON call through gateway `via` (0 unless given) with the user's API key. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers field by field.
  call<T = Record<string, any>>(
    user: KbUser,
    method: string,
    path: string,
    body?: unknown,
    options?: { via?: number; headers?: Record<string, string> },
  ): Promise<Answer<T>>;
  /** Run git in a fresh clone of the remote, as someone outside Gaia would. */
  outsideClone(): Promise<{ dir: string; git: (...args: string[]) => string }>;
  /** Replica `index`'s working copy. */
  clonePath(index: number): string;
  stopKb(index: number): Promise<void>;
  startKb(index: number): Promise<void>;
  close(): Promise<void>;
}

let users = 0;

export function gitIn(dir: string) {
  return (...args: string[]) =>
    execFileSync("git", args, {
      cwd: dir,
      encoding: "utf8",
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "Outside Writer",
        GIT_AUTHOR_EMAIL: "outside@example.com",
        GIT_COMMITTER_NAME: "Outside Writer",
        GIT_COMMITTER_EMAIL: "outside@example.com",
      },
    });
}

export async function startKbPlatform(
  options: {
    mode?: StorageMode;
    remote?: boolean;
    /** An existing bare repository to use as the remote (adopted as it is), instead of a new empty one. */
    remotePath?: string;
    replicas?: number;
    env?: Record<string, string>;
    /** Answer as soon as kb listens, not when it is ready (for tests of start-up itself). */
    waitReady?: boolean;
  } = {},
): Promise<KbPlatform> {
  const mode = options.mode ?? "git";
  const replicas = options.replicas ?? 1;
  const [databaseUrl, nats, redis] = await Promise.all([
    sharedPostgres().then((postgres) => postgres.createDatabase()),
    startNats(),
    startRedis(),
  ]);
  const work = await mkdtemp(join(tmpdir(), "gaia-kb-test-"));
  registerCleanup(() => rm(work, { recursive: true, force: true }));
  let remote: string | undefined;
  if (options.remote !== false && mode !== "database") {
    remote = options.remotePath ?? join(work, "remote.git");
    if (!options.remotePath) execFileSync("git", ["init", "-q", "--bare", "-b", "main", remote]);
  }

  const auth: TestAuth = await startTestAuth({
    databaseUrl,
    redisUrl: redis.urlFor("auth"),
    natsUrl: nats.urlFor("auth"),
    internalToken: INTERNAL_TOKEN,
  });

  const kbRuntimes: Runtime[] = [];
  const kbs: (RunningService | undefined)[] = [];
  const ports: number[] = [];
  const boot = async (index: number) => {
    const runtime = await testRuntime({
      databaseUrl: asService(databaseUrl, "kb"),
      redisUrl: redis.urlFor("kb"),
      natsUrl: nats.urlFor("kb"),
      env: { GAIA_AUTH_URL: auth.url },
    });
    const config = kbConfig(
      {
        KB_STORAGE_MODE: mode,
        KB_PATH: join(work, `clone-${index}`),
        KB_SYNC_INTERVAL_S: "0",
        ...(remote ? { KB_GIT_URL: remote } : {}),
        ...options.env,
      },
      runtime.env.GAIA_DATA_DIR,
    );
    const service = await startService(runtime, "kb", (ctx) => startKb(ctx, config), ports[index] ?? 0);
    ports[index] = service.port;
    kbRuntimes[index] = runtime;
    kbs[index] = service;
    if (options.waitReady === false) return;
    // Ready: the clone is made.
    for (let i = 0; i < 200; i++) {
      if ((await fetch(`${service.url}/ready`)).ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`kb ${index} did not become ready`);
  };
  for (let i = 0; i < replicas; i++) await boot(i);

  const gateways: TestGateway[] = [];
  for (let i = 0; i < replicas; i++) {
    gateways.push(
      await startTestGateway({
        internalToken: INTERNAL_TOKEN,
        redisUrl: redis.urlFor("gateway"),
        natsUrl: nats.urlFor("gateway"),
        urls: { auth: auth.url, kb: kbs[i]!.url },
        env: { GAIA_RATE_LIMIT_USER: "1000000", GAIA_RATE_LIMIT_ADMIN: "1000000" },
      }),
    );
  }

  const platform: KbPlatform = {
    gateways: gateways.map((g) => g.url),
    get kbUrls() {
      return kbs.map((k) => k!.url);
    },
    kbRuntimes,
    remote,
    databaseUrl,
    nats,
    async user(role = "user") {
      const email = `kb-${process.pid}-${Date.now()}-${++users}@example.com`;
      const issued = await issueKeyForEmail(auth.runtime.db.prisma, email, role, "kb tests");
      return { userId: issued.userId, email, key: issued.key };
    },
    async call(user, method, path, body, callOptions = {}) {
      const response = await fetch(`${platform.gateways[callOptions.via ?? 0]}${path}`, {
        method,
        headers: {
          "x-api-key": user.key,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...callOptions.headers,
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
    async outsideClone() {
      if (!remote) throw new Error("this platform has no remote");
      const dir = await mkdtemp(join(work, "outside-"));
      execFileSync("git", ["clone", "-q", remote, dir]);
      return { dir, git: gitIn(dir) };
    },
    clonePath: (index) => join(work, `clone-${index}`),
    async stopKb(index) {
      await kbs[index]?.close(500);
      await kbRuntimes[index]?.close();
      kbs[index] = undefined;
    },
    startKb: boot,
    async close() {
      for (const g of gateways) await g.close(200);
      for (let i = 0; i < kbs.length; i++) await platform.stopKb(i);
      await auth.close(200);
      await Promise.allSettled([nats.stop(), redis.stop()]);
    },
  };
  return platform;
}
