import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { RunningService, Runtime } from "@gaia/kit";
import { startTestAuth, startTestGateway } from "../../../../test/support/platform.ts";
import { startService, testRuntime } from "../../../../test/support/runtime.ts";
import {
  asService,
  freePort,
  registerCleanup,
  type StoppableServer,
  sharedPostgres,
  startNats,
  startRedis,
} from "../../../../test/support/servers.ts";
import { kbConfig } from "../../../kb/src/config.ts";
import { startKb } from "../../../kb/src/main.ts";
import { chatConfig } from "../../src/config.ts";
import { startChat } from "../../src/main.ts";
import { FAKE_ANTHROPIC_KEY, startFakeAnthropic } from "./fake-anthropic.ts";
import { FAKE_OPENAI_KEY, startFakeOpenAI } from "./fake-openai.ts";
import type { FakeProvider } from "./fake-provider.ts";

/**
 * The chat service as clients meet it: behind the real gateway, with the real auth service issuing identities,
 * on real PostgreSQL, Redis and NATS, talking to local servers that speak OpenAI's and Anthropic's wire formats.
 * Each service has a runtime of its own, as separate processes would.
 */

export const INTERNAL_TOKEN = "chat-test-internal-token-0123456789abcdef";

export interface TestUser {
  userId: string;
  email: string;
  password: string;
  key: string;
  keyId: string;
  accessToken: string;
  /** The refresh token of the session registration opened. */
  refreshToken: string;
}

export interface ChatPlatform {
  gateway: string;
  /** Auth itself, for calls the gateway makes (its internal endpoints, with INTERNAL_TOKEN). */
  authUrl: string;
  chatUrl: string;
  openai: FakeProvider;
  anthropic: FakeProvider;
  nats: StoppableServer;
  chatRuntime: Runtime;
  authRuntime: Runtime;
  /** Where chat finds the KB service; tests point it at their own server or at a closed port. */
  setKbUrl(url: string): void;
  newUser(): Promise<TestUser>;
  /** A JSON call through the gateway with a user's API key. */
  call<T = Record<string, unknown>>(
    user: TestUser,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T; headers: Headers }>;
  /** A raw request through the gateway with a user's API key (for streams). */
  request(user: TestUser, path: string, body: unknown, signal?: AbortSignal): Promise<Response>;
  /** Stop chat and its runtime and start it again on the same port and database. */
  restartChat(): Promise<void>;
  close(): Promise<void>;
}

let users = 0;

export async function startChatPlatform(
  options: { chatEnv?: Record<string, string> } = {},
): Promise<ChatPlatform> {
  const [databaseUrl, nats, redis, openai, anthropic, chatPort] = await Promise.all([
    sharedPostgres().then((postgres) => postgres.createDatabase()),
    startNats(),
    startRedis(),
    startFakeOpenAI(),
    startFakeAnthropic(),
    freePort(),
  ]);
  const closedKb = `http://127.0.0.1:${await freePort()}`;

  const auth = await startTestAuth({
    databaseUrl,
    redisUrl: redis.urlFor("auth"),
    natsUrl: nats.urlFor("auth"),
    internalToken: INTERNAL_TOKEN,
  });

  const config = chatConfig({
    OPENAI_API_KEY: FAKE_OPENAI_KEY,
    OPENAI_BASE_URL: `${openai.url}/v1`,
    OPENAI_DEFAULT_MODEL: "gpt-4o-mini",
    ANTHROPIC_API_KEY: FAKE_ANTHROPIC_KEY,
    ANTHROPIC_BASE_URL: anthropic.url,
    ANTHROPIC_DEFAULT_MODEL: "claude-haiku-4-5",
    GAIA_CHAT_RETRY_BASE_MS: "5",
    GAIA_CHAT_MAX_RETRIES: "1",
    GAIA_CHAT_FIRST_TOKEN_TIMEOUT_MS: "1500",
    ...options.chatEnv,
  });
  let kbUrl = closedKb;
  let chatRuntime!: Runtime;
  let chat!: RunningService;
  const bootChat = async () => {
    chatRuntime = await testRuntime({
      // Chat's own role and users, as in production: its tables, and a key's budget through a view.
      databaseUrl: asService(databaseUrl, "chat"),
      redisUrl: redis.urlFor("chat"),
      natsUrl: nats.urlFor("chat"),
      env: { GAIA_AUTH_URL: auth.url, GAIA_KB_URL: kbUrl },
    });
    chat = await startService(chatRuntime, "chat", (ctx) => startChat(ctx, config), chatPort);
  };
  await bootChat();

  const gatewayService = await startTestGateway({
    internalToken: INTERNAL_TOKEN,
    redisUrl: redis.urlFor("gateway"),
    natsUrl: nats.urlFor("gateway"),
    urls: { auth: auth.url, chat: chat.url },
    env: {
      // Tests and benchmarks send far more than a person would; the limiter is the gateway's own subject.
      GAIA_RATE_LIMIT_USER: "1000000",
      GAIA_RATE_LIMIT_ADMIN: "1000000",
    },
  });
  const gateway = gatewayService.url;

  const json = async <T>(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: unknown },
  ) => {
    const response = await fetch(`${gateway}${path}`, {
      method: init.method ?? "GET",
      headers: {
        ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
        ...init.headers,
      },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {}
    return { status: response.status, body: body as T, headers: response.headers };
  };

  return {
    gateway,
    authUrl: auth.url,
    get chatUrl() {
      return chat.url;
    },
    openai,
    anthropic,
    nats,
    get chatRuntime() {
      return chatRuntime;
    },
    authRuntime: auth.runtime,
    setKbUrl(url) {
      kbUrl = url;
      chatRuntime.env.GAIA_KB_URL = url;
    },
    async newUser() {
      const email = `chat-${process.pid}-${Date.now()}-${++users}@example.com`;
      const password = "correct horse battery staple";
      const registered = await json<{ access_token: string; refresh_token: string; user: { id: string } }>(
        "/api/v1/auth/register",
        {
          method: "POST",
          body: { email, password },
        },
      );
      if (registered.status !== 201)
        throw new Error(`register: ${registered.status} ${JSON.stringify(registered.body)}`);
      const created = await json<{ id: string; key: string }>("/api/v1/auth/keys", {
        method: "POST",
        headers: { authorization: `Bearer ${registered.body.access_token}` },
        body: { name: "chat tests" },
      });
      if (created.status !== 201) throw new Error(`key: ${created.status} ${JSON.stringify(created.body)}`);
      return {
        userId: registered.body.user.id,
        email,
        password,
        key: created.body.key,
        keyId: created.body.id,
        accessToken: registered.body.access_token,
        refreshToken: registered.body.refresh_token,
      };
    },
    call(user, method, path, body) {
      return json(path, { method, headers: { "x-api-key": user.key }, body });
    },
    request(user, path, body, signal) {
      return fetch(`${gateway}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": user.key },
        body: JSON.stringify(body),
        signal,
      });
    },
    async restartChat() {
      await chat.close(1000);
      await chatRuntime.close();
      await bootChat();
    },
    async close() {
      await gatewayService.close(500);
      await chat.close(500);
      await chatRuntime.close();
      await auth.close(500);
      await Promise.all([openai.close(), anthropic.close()]);
    },
  };
}

/** A stand-in for the KB service's HTTP contract: records what chat sent and answers from a small table. */
export interface RealKb {
  url: string;
  close(): Promise<void>;
}

/**
 * The real KB service for chat's tools: a local Git repository holding `files` (committed before it starts, as
 * an adopted repository), on the chat platform's database as kb's own role, verifying identities against its auth.
 */
export async function startRealKb(p: ChatPlatform, files: Record<string, string>): Promise<RealKb> {
  const dir = await mkdtemp(join(tmpdir(), "gaia-chat-kb-"));
  registerCleanup(() => rm(dir, { recursive: true, force: true }));
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=Seed", "-c", "user.email=seed@example.com", ...args], { cwd: dir });
  git("init", "-q", "-b", "main");
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  git("add", "-A");
  git("commit", "-qm", "seed");
  const runtime = await testRuntime({
    databaseUrl: asService(p.chatRuntime.env.DATABASE_URL!, "kb"),
    env: { GAIA_AUTH_URL: p.authUrl },
  });
  const config = kbConfig({ KB_PATH: dir, KB_SYNC_INTERVAL_S: "0" }, runtime.env.GAIA_DATA_DIR);
  const service = await startService(runtime, "kb", (ctx) => startKb(ctx, config));
  await eventually(async () => (await fetch(`${service.url}/ready`)).ok, 10_000);
  return {
    url: service.url,
    async close() {
      await service.close(200);
      await runtime.close();
    },
  };
}

import { eventually } from "../../../../test/support/wait.ts";

export { eventually };
