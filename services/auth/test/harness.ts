import { request as httpRequest } from "node:http";
import {
  type Bus,
  createBus,
  createLogger,
  type Identity,
  INTERNAL_TOKEN_HEADER,
  type RunningService,
  type Runtime,
} from "@gaia/kit";
import { startTestAuth } from "../../../test/support/platform.ts";
import {
  type StoppableServer,
  sharedPostgres,
  startNats,
  startRedis,
} from "../../../test/support/servers.ts";
import type { AuthSettings } from "../src/settings.ts";

export const INTERNAL_TOKEN = "test-internal-token-0123456789-abcdefghijklmnop";

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

export interface AuthUnderTest {
  url: string;
  runtime: Runtime;
  service: RunningService;
  settings: AuthSettings;
  /**
   * A JSON request; `as` is a credential (API key or bearer JWT) turned into X-Gaia-Identity first; `from` is
   * the client's own address, a loopback alias such as 127.0.0.2, which auth sees as req.ip.
   */
  call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options?: { body?: unknown; as?: string; headers?: Record<string, string>; from?: string },
  ): Promise<Reply<T>>;
  /** POST /internal/authenticate with a key (gaia_...) or a JWT, as the gateway calls it (with the internal token). */
  authenticate(credential: string): Promise<Reply<{ identity: Identity; token: string; expires_at: number }>>;
  /** Register and log in a fresh user; answers its tokens. */
  signUp(email?: string, password?: string): Promise<{ email: string; password: string; login: LoginBody }>;
  close(): Promise<void>;
}

export interface LoginBody {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
  user: { id: string; email: string; role: string };
}

/** A request sent from a local address of the caller's choosing (Linux routes all of 127/8 to loopback). */
function requestFrom(
  localAddress: string,
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method, headers: init.headers, localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers))
          if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
        resolve(
          new Response(chunks.length ? Buffer.concat(chunks) : null, { status: res.statusCode, headers }),
        );
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

let counter = 0;
export const uniqueEmail = (tag = "user") => `${tag}-${process.pid}-${Date.now()}-${++counter}@example.com`;

/** Auth on a fresh PostgreSQL database, with the given Redis and NATS (or embedded defaults), on a free port. */
export async function startAuthUnderTest(
  options: { redis?: StoppableServer; nats?: StoppableServer; env?: Record<string, string> } = {},
): Promise<AuthUnderTest> {
  const auth = await startTestAuth({
    databaseUrl: await (await sharedPostgres()).createDatabase(),
    redisUrl: options.redis?.urlFor("auth"),
    natsUrl: options.nats?.urlFor("auth"),
    internalToken: INTERNAL_TOKEN,
    env: options.env,
  });
  const { url, runtime, service, settings } = auth;

  const request = async <T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    from?: string,
  ) => {
    const init = {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    };
    const response = from
      ? await requestFrom(from, `${url}${path}`, init)
      : await fetch(`${url}${path}`, init);
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as T, headers: response.headers };
  };

  const authenticate: AuthUnderTest["authenticate"] = (credential) =>
    request(
      "POST",
      "/internal/authenticate",
      credential.startsWith("gaia_") ? { api_key: credential } : { bearer: credential },
      internalHeaders,
    );

  const harness: AuthUnderTest = {
    url,
    runtime,
    service,
    settings,
    authenticate,
    async call(method, path, callOptions = {}) {
      const headers = { ...callOptions.headers };
      if (callOptions.as) {
        const auth = await authenticate(callOptions.as);
        if (auth.status !== 200) return auth as never;
        headers["x-gaia-identity"] = auth.body.token;
      }
      return request(method, path, callOptions.body, headers, callOptions.from);
    },
    async signUp(email = uniqueEmail(), password = "correct horse battery") {
      const registered = await request<LoginBody>("POST", "/api/v1/auth/register", { email, password });
      if (registered.status !== 201) throw new Error(`register failed: ${JSON.stringify(registered.body)}`);
      const login = await request<LoginBody>("POST", "/api/v1/auth/login", { email, password });
      if (login.status !== 200) throw new Error(`login failed: ${JSON.stringify(login.body)}`);
      return { email, password, login: login.body };
    },
    close: () => auth.close(),
  };
  return harness;
}

export const internalHeaders = { [INTERNAL_TOKEN_HEADER]: INTERNAL_TOKEN };

export interface Recorded {
  subject: string;
  payload: Record<string, unknown>;
}

/**
 * Every event published under `gaia.auth.>`, on a NATS connection of its own; resolves once the subscription
 * is live (a probe event made the round trip).
 */
async function recordAuthEvents(natsUrl: string): Promise<{ events: Recorded[]; bus: Bus }> {
  const bus = createBus(natsUrl, createLogger("test-events", "silent"));
  const events: Recorded[] = [];
  let probed = false;
  bus.subscribe("gaia.auth.>", (payload, subject) => {
    if (subject === "gaia.auth.test-probe") probed = true;
    else events.push({ subject, payload: payload as Record<string, unknown> });
  });
  const deadline = Date.now() + 5000;
  while (!probed) {
    if (Date.now() > deadline) throw new Error("event subscription did not come up");
    await bus.publish("gaia.auth.test-probe", {});
    await new Promise((r) => setTimeout(r, 25));
  }
  return { events, bus };
}

export interface AuthWithEvents {
  auth: AuthUnderTest;
  /** Every gaia.auth.> event published since the start. */
  events: Recorded[];
  close(): Promise<void>;
}

/** Auth on a Redis and a NATS of its own, with every event it publishes recorded. */
export async function startAuthWithEvents(env?: Record<string, string>): Promise<AuthWithEvents> {
  const [redis, nats] = await Promise.all([startRedis(), startNats()]);
  const auth = await startAuthUnderTest({ redis, nats, env });
  const { events, bus } = await recordAuthEvents(nats.url);
  return {
    auth,
    events,
    async close() {
      await bus.close();
      await auth.close();
      await Promise.all([redis.stop(), nats.stop()]);
    },
  };
}

export { eventually } from "../../../test/support/wait.ts";
