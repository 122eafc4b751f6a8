import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  createLogger,
  errorHandler,
  IDENTITY_HEADER,
  type Identity,
  type IdentityVerifier,
  remoteIdentityVerifier,
  requireIdentity,
} from "@gaia/kit";
import express from "express";
import { Agent, fetch as undiciFetch } from "undici";
import {
  startTestGateway as startSharedGateway,
  startTestAuth,
  type TestAuth,
  type TestGateway,
} from "../../../test/support/platform.ts";
import { type StoppableServer, sharedPostgres } from "../../../test/support/servers.ts";
import { sleep } from "../../../test/support/wait.ts";

/**
 * The gateway under test with its real neighbours: auth on PostgreSQL, Redis and NATS, and a small backend that
 * stands in for chat and kb. The backend refuses any request without an X-Gaia-Identity it can verify against
 * auth's JWKS, exactly as the real backends do, and records what reached it.
 */

export const INTERNAL_TOKEN = "gateway-test-internal-token-0123456789abcdef";

export interface Seen {
  method: string;
  path: string;
  identity?: Identity;
  headers: Record<string, string | string[] | undefined>;
  bytes: number;
  sha256: string;
}

export interface TestBackend {
  url: string;
  seen: Seen[];
  /** Request ids whose connection the backend saw close before it answered. */
  closedEarly: Set<string>;
  /** Lets a held stream (v1 chat, worldbuilding) go on past its first part. */
  release(requestId: string): void;
  close(): Promise<void>;
}

/** Read the whole body, counting and hashing it. */
async function drain(req: express.Request): Promise<{ bytes: number; sha256: string; text: string }> {
  const hash = createHash("sha256");
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req) {
    bytes += (chunk as Buffer).length;
    hash.update(chunk as Buffer);
    if (bytes <= 64 * 1024) chunks.push(chunk as Buffer);
  }
  return { bytes, sha256: hash.digest("hex"), text: Buffer.concat(chunks).toString("utf8") };
}

export async function startTestBackend(verify: IdentityVerifier): Promise<TestBackend> {
  const seen: Seen[] = [];
  const closedEarly = new Set<string>();
  const gates = new Map<string, () => void>();
  const released = new Set<string>();
  /** Resolves when the test releases the request, or when its client goes away. */
  const held = (req: express.Request, res: express.Response) =>
    new Promise<void>((resolve) => {
      const requestId = String(req.get("x-request-id"));
      if (released.delete(requestId)) return resolve();
      gates.set(requestId, resolve);
      res.on("close", resolve);
    });
  const app = express();

  app.get("/health", (_req, res) => {
    res.json({ status: "healthy", service: "test-backend" });
  });

  // Every other path needs an identity verified against auth's JWKS (kit's requireIdentity, as the real
  // backends use it), except the one a client may call anonymously.
  const identified = requireIdentity(verify);
  app.use((req, res, next) => {
    const requestId = String(req.get("x-request-id"));
    res.on("close", () => {
      if (!res.writableFinished) closedEarly.add(requestId);
    });
    if (req.path === "/api/v0.2/health" && !req.get(IDENTITY_HEADER)) return next();
    identified(req, res, next);
  });

  // Server-Sent Events: event one, then event two once the test releases the request (v1) or after 10 s (v0.3).
  app.post(["/api/v1/chat", "/api/v0.3/chat"], async (req, res) => {
    await drain(req);
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.write('data: {"type":"content","content":"one"}\n\n');
    await (req.path === "/api/v0.3/chat" ? sleep(10_000) : held(req, res));
    if (res.destroyed) return;
    res.write('data: {"type":"content","content":"two"}\n\n');
    res.end('data: {"type":"done"}\n\n');
  });

  // Headers at once, the body only once the test releases the request: a client must see the answer start first.
  app.post("/api/v1/chat/worldbuilding", async (req, res) => {
    await drain(req);
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.flushHeaders();
    await held(req, res);
    if (res.destroyed) return;
    res.end('data: {"type":"done"}\n\n');
  });

  // One event, then the connection breaks: for streams that fail half-way.
  app.post("/api/v0.2/chat", async (req, res) => {
    await drain(req);
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write('data: {"type":"content","content":"half"}\n\n');
    await sleep(50);
    res.socket?.destroy();
  });

  // Never answers: for timeouts.
  app.get("/api/v1/chat/status", () => {});

  app.get("/api/v1/models", (_req, res) => {
    res.json({ object: "list", data: [{ id: "echo", object: "model", created: 0, owned_by: "gaia" }] });
  });

  // Everything else: an echo of what arrived.
  app.use(async (req, res) => {
    const body = await drain(req);
    const record: Seen = {
      method: req.method,
      path: req.originalUrl,
      identity: res.locals.identity as Identity | undefined,
      headers: { ...req.headers },
      bytes: body.bytes,
      sha256: body.sha256,
    };
    seen.push(record);
    res.json(record);
  });

  app.use(errorHandler(createLogger("test-backend", "silent")));

  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    closedEarly,
    release(requestId) {
      const open = gates.get(requestId);
      if (!open) return void released.add(requestId);
      gates.delete(requestId);
      open();
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export type Auth = TestAuth;
export type Gateway = TestGateway;

export async function startRealAuth(redis: StoppableServer, natsUrl: string): Promise<Auth> {
  const databaseUrl = await (await sharedPostgres()).createDatabase();
  return startTestAuth({
    databaseUrl,
    redisUrl: redis.urlFor("auth"),
    natsUrl,
    internalToken: INTERNAL_TOKEN,
  });
}

/** A gateway on its own runtime (its own Redis and NATS connections, as a separate process would have). */
export function startTestGateway(
  options: Omit<Parameters<typeof startSharedGateway>[0], "internalToken">,
): Promise<Gateway> {
  return startSharedGateway({ internalToken: INTERNAL_TOKEN, ...options });
}

export const jwksVerifier = (authUrl: string) => remoteIdentityVerifier(`${authUrl}/.well-known/jwks.json`);

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * `from` is the client's own address, a loopback alias such as 127.0.0.2 (Linux routes all of 127/8 to the
 * loopback device): the services see it as req.ip, so tests of per-address limits keep their clients apart.
 */
export async function call<T = Record<string, unknown>>(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown; from?: string } = {},
): Promise<Reply<T>> {
  const json = init.body !== undefined && typeof init.body !== "string";
  const request = {
    method: init.method ?? "GET",
    headers: { ...(json ? { "content-type": "application/json" } : {}), ...init.headers },
    body: json ? JSON.stringify(init.body) : (init.body as string | undefined),
  };
  const agent = init.from ? new Agent({ localAddress: init.from }) : undefined;
  try {
    const response = agent
      ? await undiciFetch(url, { ...request, dispatcher: agent })
      : await fetch(url, request);
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {}
    return { status: response.status, body: body as T, headers: response.headers as Headers };
  } finally {
    await agent?.close();
  }
}

export { eventually } from "../../../test/support/wait.ts";
