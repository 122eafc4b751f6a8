import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { RunningService, Runtime } from "@gaia/kit";
import { startTestAuth, startTestGateway } from "../../../../test/support/platform.ts";
import { startService, testRuntime } from "../../../../test/support/runtime.ts";
import {
  asService,
  freePort,
  type StoppableServer,
  sharedPostgres,
  startNats,
  startRedis,
} from "../../../../test/support/servers.ts";
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
export interface FakeKb {
  url: string;
  calls: { path: string; identity: string | undefined; body: Record<string, unknown> }[];
  close(): Promise<void>;
}

export async function startFakeKb(files: Record<string, string>): Promise<FakeKb> {
  const calls: FakeKb["calls"] = [];
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    let raw = "";
    for await (const part of req) raw += part;
    const body = raw ? JSON.parse(raw) : {};
    calls.push({ path: req.url ?? "", identity: req.headers["x-gaia-identity"] as string | undefined, body });
    res.setHeader("content-type", "application/json");
    if (!req.headers["x-gaia-identity"])
      return void res.writeHead(401).end('{"detail":"Missing service identity"}');
    if (req.url === "/api/v0.2/kb/search") {
      const query = String(body.query ?? "").toLowerCase();
      const results = Object.entries(files)
        .filter(([, text]) => text.toLowerCase().includes(query))
        .map(([path, text]) => ({ path, excerpt: text.slice(0, 80) }));
      return void res.end(JSON.stringify({ query: body.query, results }));
    }
    if (req.url === "/api/v0.2/kb/read") {
      const content = files[String(body.path)];
      if (content === undefined) return void res.writeHead(404).end('{"detail":"No such file"}');
      return void res.end(JSON.stringify({ path: body.path, content }));
    }
    res.writeHead(404).end('{"detail":"not found"}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export { eventually } from "../../../../test/support/wait.ts";
