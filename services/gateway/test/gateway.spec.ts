import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { generateApiKey } from "@gaia/auth/apikeys";
import { issueKeyForEmail } from "@gaia/auth/bootstrap";
import { authnKey, credentialHash, type Role } from "@gaia/kit";
import { Redis } from "ioredis";
import OpenAI from "openai";
import { type StoppableServer, startNats, startRedis } from "../../../test/support/servers.ts";
import {
  type Auth,
  call,
  eventually,
  type Gateway,
  jwksVerifier,
  type Reply,
  type Seen,
  startRealAuth,
  startTestBackend,
  startTestGateway,
  type TestBackend,
} from "./platform.ts";

let n = 0;
const email = (tag: string) => `${tag}-${process.pid}-${++n}@gateway.test`;

describe("gateway against real auth, Redis and NATS", function () {
  this.timeout(60_000);
  let redis: StoppableServer;
  let nats: StoppableServer;
  let auth: Auth;
  let backend: TestBackend;
  let gateway: Gateway;
  let url: string;
  const issue = async (role: Role, tag: string = role) =>
    (await issueKeyForEmail(auth.runtime.db.prisma, email(tag), role, tag)).key;

  before(async () => {
    [redis, nats] = await Promise.all([startRedis(), startNats()]);
    auth = await startRealAuth(redis, nats.urlFor("auth"));
    backend = await startTestBackend(jwksVerifier(auth.url));
    gateway = await startTestGateway({
      redisUrl: redis.urlFor("gateway"),
      natsUrl: nats.urlFor("gateway"),
      urls: { auth: auth.url, chat: backend.url, kb: backend.url },
      env: {
        GAIA_CORS_ORIGINS: "https://game.example",
        GAIA_RATE_LIMIT_GUEST: "3",
        // Short, for the 504 test, yet long enough for a password hash (login) on a busy machine.
        GAIA_GATEWAY_TIMEOUT_MS: "3000",
        // Long enough that only the revocation event can explain a revoked key stopping within a test.
        GAIA_GATEWAY_IDENTITY_CACHE_MS: "60000",
      },
    });
    url = gateway.url;
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    await auth?.close();
  });

  describe("routing and errors", () => {
    it("answers an unknown path with a JSON 404 and a request id", async () => {
      const reply = await call(`${url}/no/such/path`);
      assert.equal(reply.status, 404);
      assert.match(String(reply.body.detail), /No route/);
      assert.ok(reply.headers.get("x-request-id"));
      assert.match(reply.headers.get("content-type") ?? "", /application\/json/);
    });

    it("answers a known path with the wrong method with 405 and Allow", async () => {
      const reply = await call(`${url}/api/v1/chat`, { method: "PUT" });
      assert.equal(reply.status, 405);
      assert.equal(reply.headers.get("allow"), "POST");
      assert.ok(reply.body.detail);
    });

    it("refuses dot segments", async () => {
      const reply = await new Promise<number>((resolve, reject) => {
        // A raw path: URL parsing (fetch, or http.request given a URL) would resolve the dots away first.
        const { hostname, port } = new URL(url);
        const path = "/api/v1/assets/../../internal/authenticate";
        const req = httpRequest({ hostname, port, path, method: "GET" }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
      assert.equal(reply, 400);
    });

    it("publishes an OpenAPI 3.1 document without authentication", async () => {
      const reply = await call<{ openapi: string; paths: Record<string, unknown> }>(`${url}/openapi.json`);
      assert.equal(reply.status, 200);
      assert.equal(reply.body.openapi, "3.1.0");
      assert.ok(reply.body.paths["/api/v1/chat/completions"]);
    });

    it("serves no metrics on the public port, with or without credentials", async () => {
      const admin = await issue("admin", "metrics-admin");
      for (const headers of [{}, { "x-api-key": admin }] as Record<string, string>[]) {
        const reply = await call(`${url}/metrics`, { headers });
        assert.equal(reply.status, 404);
        assert.doesNotMatch(JSON.stringify(reply.body), /gaia_http_requests_total/);
      }
      assert.match(
        await gateway.runtime.metrics.text(),
        /gaia_http_requests_total/,
        "the metrics port has them",
      );
    });

    it("counts requests in its metrics by route pattern, not by path", async () => {
      const key = await issue("user", "metrics");
      await call(`${url}/api/v1/conversations/c-42/messages`, { headers: { "x-api-key": key } });
      const metrics = await gateway.runtime.metrics.text();
      assert.match(metrics, /gaia_http_requests_total\{[^}]*route="\/api\/v1\/conversations\/\{path\+\}"/);
      assert.doesNotMatch(metrics, /c-42/);
    });

    it("keeps the first platform's calculator", async () => {
      const reply = await call(`${url}/calculator/add`, { method: "POST", body: { a: 2, b: 3.5 } });
      assert.deepEqual(reply.body, { result: 5.5 });
      const bad = await call(`${url}/calculator/add`, { method: "POST", body: { a: "x" } });
      assert.equal(bad.status, 422);
    });

    it("answers the first platform's paths this release does not offer with 501 and the reason", async () => {
      const key = await issue("user", "unimplemented");
      for (const [method, path, reason] of [
        ["POST", "/api/v1/auth/confirm", /Email verification is not part of this release/],
        ["POST", "/api/v1/auth/resend-verification", /Email verification/],
        ["POST", "/api/v0.2/usage/log", /recorded by the services that incur it/],
        ["GET", "/api/v0.2/performance/stages", /not recorded by this release.*performance\/summary/],
        ["GET", "/api/v0.2/performance/live", /not recorded by this release/],
      ] as const) {
        const answer = await call(`${url}${path}`, {
          method,
          headers: { "x-api-key": key },
          body: method === "POST" ? {} : undefined,
        });
        assert.equal(answer.status, 501, path);
        assert.match(String(answer.body.detail), reason, path);
      }
      // Without a credential too: nothing behind it to protect, and the answer is the same.
      assert.equal((await call(`${url}/api/v1/auth/confirm`, { method: "POST", body: {} })).status, 501);
    });

    it("answers GET / with API versions for a credential, and hands browsers to the web UI (503 until it runs)", async () => {
      const key = await issue("user", "root");
      const api = await call(`${url}/`, { headers: { "x-api-key": key } });
      assert.equal(api.status, 200);
      assert.ok((api.body.versions as Record<string, string>)["v0.3"]);
      const page = await call(`${url}/`);
      assert.equal(page.status, 503);
      assert.deepEqual(page.body, { detail: "web service is unavailable" });
    });
  });

  describe("authentication", () => {
    it("refuses a request without credentials with 401", async () => {
      const reply = await call(`${url}/api/v1/models`);
      assert.equal(reply.status, 401);
      assert.equal(reply.headers.get("www-authenticate"), "Bearer");
      assert.ok(reply.body.detail);
    });

    it("refuses a bad key with auth's 401", async () => {
      const reply = await call(`${url}/api/v1/models`, {
        headers: { "x-api-key": `gaia_abcdefgh_${"x".repeat(40)}` },
      });
      assert.equal(reply.status, 401);
      assert.equal(reply.body.detail, "Invalid API key");
    });

    it("carries the caller to the backend as X-Gaia-Identity, with the request id and trace context", async () => {
      const key = await issue("developer", "carried");
      const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
      const reply = await call<Seen>(`${url}/api/v0.2/providers?verbose=1`, {
        headers: { "x-api-key": key, "x-request-id": "client-req-1", traceparent },
      });
      assert.equal(reply.status, 200);
      assert.equal(reply.body.path, "/api/v0.2/providers?verbose=1");
      assert.equal(reply.body.identity?.role, "developer");
      assert.equal(reply.body.identity?.authType, "api_key");
      assert.equal(reply.body.headers["x-request-id"], "client-req-1");
      assert.equal(reply.headers.get("x-request-id"), "client-req-1");
      assert.equal(reply.body.headers.traceparent, traceparent);
      assert.equal(reply.body.headers["x-api-key"], undefined, "the key stays at the gateway");
    });

    it("ignores a client's X-Gaia-Identity: the backend sees the gateway's token", async () => {
      const key = await issue("user", "spoofer");
      // A well-formed token for someone else would be the real threat; any value must simply be replaced.
      const forged = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJhZG1pbiJ9.c2ln";
      const reply = await call<Seen>(`${url}/api/v0.2/usage/current`, {
        headers: { "x-api-key": key, "X-Gaia-Identity": forged, "x-gaia-internal-token": "guess" },
      });
      assert.equal(reply.status, 200);
      assert.notEqual(reply.body.headers["x-gaia-identity"], forged);
      assert.equal(reply.body.identity?.role, "user");
      assert.equal(reply.body.headers["x-gaia-internal-token"], undefined);

      const anonymous = await call<Seen>(`${url}/api/v0.2/health`, {
        headers: { "X-Gaia-Identity": forged },
      });
      assert.equal(anonymous.status, 200);
      assert.equal(anonymous.body.headers["x-gaia-identity"], undefined);
    });

    it("logs in through the gateway and uses the JWT: register, login, me, then a key made with it", async () => {
      const who = email("jwt");
      const password = "correct horse battery staple";
      const registered = await call(`${url}/api/v1/auth/register`, {
        method: "POST",
        body: { email: who, password },
      });
      assert.equal(registered.status, 201, JSON.stringify(registered.body));
      const login = await call<{ access_token: string; token_type: string }>(`${url}/api/v1/auth/login`, {
        method: "POST",
        body: { email: who, password },
      });
      assert.equal(login.status, 200);
      assert.equal(login.body.token_type, "bearer");
      const bearer = { authorization: `Bearer ${login.body.access_token}` };
      const me = await call(`${url}/api/v1/auth/me`, { headers: bearer });
      assert.equal(me.status, 200);
      assert.equal(me.body.email, who);
      const key = await call<{ key: string }>(`${url}/api/v1/auth/keys`, {
        method: "POST",
        headers: bearer,
        body: { name: "made through the gateway" },
      });
      assert.equal(key.status, 201);
      const used = await call<Seen>(`${url}/api/v0.2/personas`, { headers: { "x-api-key": key.body.key } });
      assert.equal(used.status, 200);
      assert.equal(used.body.identity?.authType, "api_key");
    });

    it("serves the official openai SDK with a Gaia key as its apiKey", async () => {
      const key = await issue("user", "openai-sdk");
      const client = new OpenAI({ apiKey: key, baseURL: `${url}/api/v1` });
      const models = await client.models.list();
      assert.deepEqual(
        models.data.map((m) => m.id),
        ["echo"],
      );
    });

    it("stops a revoked key at once: auth's event clears the gateway's memory", async () => {
      const who = email("revoke");
      const password = "correct horse battery staple";
      await call(`${url}/api/v1/auth/register`, { method: "POST", body: { email: who, password } });
      const login = await call<{ access_token: string }>(`${url}/api/v1/auth/login`, {
        method: "POST",
        body: { email: who, password },
      });
      const bearer = { authorization: `Bearer ${login.body.access_token}` };
      const created = await call<{ id: string; key: string }>(`${url}/api/v1/auth/keys`, {
        method: "POST",
        headers: bearer,
        body: { name: "short-lived" },
      });
      const withKey = { "x-api-key": created.body.key };
      assert.equal((await call(`${url}/api/v0.2/personas`, { headers: withKey })).status, 200);
      const revoked = await call(`${url}/api/v1/auth/keys/${created.body.id}`, {
        method: "DELETE",
        headers: bearer,
      });
      assert.equal(revoked.status, 204);
      // The gateway holds identities for a minute in this test; only the bus event can make this pass.
      const refused = await eventually(async () => {
        const reply = await call(`${url}/api/v0.2/personas`, { headers: withKey });
        return reply.status === 401 && reply;
      }, 2000);
      assert.match(String(refused.body.detail), /revoked|Invalid/);
    });

    it("lets a second gateway use the shared cache: it only asks auth for a service token", async () => {
      const key = await issue("user", "shared-cache");
      assert.equal((await call(`${url}/api/v0.2/personas`, { headers: { "x-api-key": key } })).status, 200);
      assert.ok(
        await auth.runtime.cache.get(authnKey(credentialHash(key))),
        "auth wrote the identity to the shared cache",
      );
      const other = await startTestGateway({
        redisUrl: redis.urlFor("gateway"),
        natsUrl: nats.urlFor("gateway"),
        urls: { auth: auth.url, chat: backend.url },
      });
      try {
        // A gateway that has not reached Redis yet answers from auth (degraded, by design); wait for it.
        await eventually(() => other.runtime.cache.healthy());
        const before = await internalCalls(auth);
        const reply = await call<Seen>(`${other.url}/api/v0.2/personas`, { headers: { "x-api-key": key } });
        assert.equal(reply.status, 200);
        assert.equal(reply.body.identity?.role, "user");
        const after = await internalCalls(auth);
        assert.equal(after.authenticate - before.authenticate, 0, "no credential check at auth");
        assert.equal(after.serviceToken - before.serviceToken, 1, "one service token minted");
      } finally {
        await other.close();
      }
    });

    it("ignores and counts an identity planted in Redis by anyone but auth", async () => {
      // An attacker who reaches Redis writes an admin identity under the hash of a string of their own.
      const attacker = new Redis(redis.url, { keyPrefix: "gaia:" });
      const chosen = `gaia_attacker_${randomBytes(24).toString("base64url")}`;
      const admin = {
        userId: "00000000-0000-4000-8000-000000000000",
        role: "admin",
        permissions: ["admin:all"],
        authType: "api_key",
      };
      const forgedTotal = async () =>
        Number(
          /gaia_authn_cache_forged_total(?:\{[^}]*\})? (\d+)/.exec(
            await gateway.runtime.metrics.text(),
          )?.[1] ?? 0,
        );
      try {
        const before = await forgedTotal();
        // The shape that used to be trusted, and a sealed-looking entry with a made-up MAC.
        for (const planted of [admin, { v: 1, identity: admin, exp: 4_000_000_000, mac: "AAAA" }]) {
          await attacker.set(authnKey(credentialHash(chosen)), JSON.stringify(planted), "EX", 600);
          const reply = await call<Seen>(`${url}/api/v0.2/personas`, { headers: { "x-api-key": chosen } });
          assert.equal(reply.status, 401, "the planted identity grants nothing");
          assert.equal(reply.body.identity, undefined, "the backend was never called");
        }
        assert.equal((await forgedTotal()) - before, 2, "each planted entry counted");
      } finally {
        attacker.disconnect();
      }
    });

    it("answers 503 when auth is unreachable and nothing is cached", async () => {
      const orphan = await startTestGateway({ urls: { chat: backend.url } });
      try {
        const reply = await call(`${orphan.url}/api/v1/models`, {
          headers: { "x-api-key": await issue("user") },
        });
        assert.equal(reply.status, 503);
        assert.deepEqual(reply.body, { detail: "auth service is unavailable" });
      } finally {
        await orphan.close();
      }
    });

    it("answers 503 naming GAIA_INTERNAL_TOKEN when it has none, or one auth refuses", async () => {
      const key = await issue("user", "no-internal-token");
      for (const token of ["", "another-internal-token-0123456789abcdef"]) {
        const misconfigured = await startTestGateway({
          urls: { auth: auth.url, chat: backend.url },
          env: { GAIA_INTERNAL_TOKEN: token },
        });
        try {
          const reply = await call<{ detail: string }>(`${misconfigured.url}/api/v0.2/personas`, {
            headers: { "x-api-key": key },
          });
          assert.equal(reply.status, 503, JSON.stringify(reply.body));
          assert.match(reply.body.detail, /GAIA_INTERNAL_TOKEN/);
        } finally {
          await misconfigured.close();
        }
      }
    });
  });

  describe("limits", () => {
    it("rate-limits per credential by role: 429 with Retry-After and RateLimit-* headers", async () => {
      const key = await issue("guest", "limited");
      const statuses: number[] = [];
      let last: Reply | undefined;
      for (let i = 0; i < 4; i++) {
        last = await call(`${url}/api/v0.2/personas`, { headers: { "x-api-key": key } });
        statuses.push(last.status);
      }
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      assert.ok(last);
      assert.equal(last.headers.get("ratelimit-limit"), "3");
      assert.equal(last.headers.get("ratelimit-remaining"), "0");
      const reset = Number(last.headers.get("ratelimit-reset"));
      assert.ok(reset >= 1 && reset <= 60, String(reset));
      assert.equal(last.headers.get("retry-after"), String(reset));
      assert.match(String(last.body.detail), /Rate limit/);
      // Another user of the same role has their own count.
      const other = await call(`${url}/api/v0.2/personas`, {
        headers: { "x-api-key": await issue("guest") },
      });
      assert.equal(other.status, 200);
      assert.equal(other.headers.get("ratelimit-remaining"), "2");
    });

    it("counts every key of one user in one bucket: a second key does not add to the limit", async () => {
      const owner = email("two-keys");
      const first = (await issueKeyForEmail(auth.runtime.db.prisma, owner, "guest", "first")).key;
      const second = (await issueKeyForEmail(auth.runtime.db.prisma, owner, "guest", "second")).key;
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await call(`${url}/api/v0.2/personas`, { headers: { "x-api-key": first } })).status);
      assert.deepEqual(statuses, [200, 200, 200]);
      const refused = await call(`${url}/api/v0.2/personas`, { headers: { "x-api-key": second } });
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get("ratelimit-remaining"), "0");
      assert.match(String(refused.body.detail), /Rate limit/);
    });

    it("answers bogus keys from one address 429 past the limit, yet lets that address's valid key through", async () => {
      const from = "127.0.0.2";
      const valid = await issue("user", "behind-nat");
      const statuses: number[] = [];
      let refused: Reply | undefined;
      // The anonymous limit (60 a minute) bounds failed authentications per address.
      for (let i = 0; i < 62; i++) {
        const reply = await call(`${url}/api/v0.2/personas`, {
          headers: { "x-api-key": generateApiKey().key },
          from,
        });
        statuses.push(reply.status);
        if (reply.status === 429) refused = reply;
      }
      assert.deepEqual(statuses.slice(0, 60), Array(60).fill(401));
      assert.deepEqual(statuses.slice(60), [429, 429]);
      assert.ok(refused);
      assert.match(String(refused.body.detail), /failed authentications/);
      assert.equal(refused.headers.get("ratelimit-limit"), "60");
      assert.equal(refused.headers.get("ratelimit-remaining"), "0");
      const reset = Number(refused.headers.get("ratelimit-reset"));
      assert.ok(reset >= 1 && reset <= 60, String(reset));
      assert.equal(refused.headers.get("retry-after"), String(reset));

      const ok = await call(`${url}/api/v0.2/personas`, { headers: { "x-api-key": valid }, from });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      // Another address never failed.
      const elsewhere = await call(`${url}/api/v0.2/personas`, {
        headers: { "x-api-key": generateApiKey().key },
        from: "127.0.0.3",
      });
      assert.equal(elsewhere.status, 401);
    });

    it("refuses a body over the route's limit with 413, declared or chunked", async () => {
      const big = JSON.stringify({ email: "a@b.c", password: "x".repeat(100 * 1024) });
      const declared = await call(`${url}/api/v1/auth/login`, { method: "POST", body: big });
      assert.equal(declared.status, 413);
      assert.equal(declared.body.detail, "Request body too large");

      const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(
          `${url}/api/v1/auth/login`,
          { method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" } },
          (res) => {
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on("error", reject);
        for (let i = 0; i < 10; i++) req.write("x".repeat(10 * 1024));
        req.end();
      });
      assert.equal(chunked.status, 413);
      assert.equal(JSON.parse(chunked.body).detail, "Request body too large");
    });

    it("streams a large request body through unchanged", async () => {
      const key = await issue("developer", "upload");
      const payload = randomBytes(3 * 1024 * 1024).toString("base64");
      const reply = await call<Seen>(`${url}/api/v0.2/kb/write`, {
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json" },
        body: JSON.stringify({ path: "big.md", content: payload }),
      });
      assert.equal(reply.status, 200);
      const sent = JSON.stringify({ path: "big.md", content: payload });
      assert.equal(reply.body.bytes, Buffer.byteLength(sent));
      assert.equal(reply.body.sha256, createHash("sha256").update(sent).digest("hex"));
    });

    it("answers 504 when a backend does not answer within the route's time", async () => {
      const key = await issue("user", "patient");
      const reply = await call(`${url}/api/v1/chat/status`, { headers: { "x-api-key": key } });
      assert.equal(reply.status, 504);
      assert.deepEqual(reply.body, { detail: "chat service timed out" });
    });
  });

  describe("client addresses", () => {
    const loginFailedIps = async (who: string) =>
      (
        await auth.runtime.db.prisma.auditLog.findMany({
          where: { action: "auth.login.failed", details: { path: ["email"], equals: who } },
        })
      ).map((entry) => entry.ip);
    const failLogin = (base: string, who: string, headers: Record<string, string> = {}) =>
      call(`${base}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ email: who, password: "not-the-password" }),
      });

    it("ignores X-Forwarded-For from an untrusted hop: a new one each time still hits the per-address limit", async () => {
      // Its own count (no shared Redis): the other tests' calls from loopback would share the window.
      const strict = await startTestGateway({
        urls: { auth: auth.url },
        env: { GAIA_RATE_LIMIT_ANONYMOUS: "5" },
      });
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 12; i++) {
          // An empty body is refused by auth at once (422): the limit is the gateway's, before auth.
          const reply = await call(`${strict.url}/api/v1/auth/login`, {
            method: "POST",
            headers: { "content-type": "application/json", "x-forwarded-for": `198.51.100.${i + 1}` },
            body: "{}",
          });
          statuses.push(reply.status);
        }
        assert.deepEqual(statuses, [...Array(5).fill(422), ...Array(7).fill(429)]);
      } finally {
        await strict.close();
      }
    });

    it("tells auth the client's address with proof: auth believes the gateway, not a caller naming itself", async () => {
      const who = email("address");
      // Straight to auth, a caller that names an address of its choosing is taken for its own.
      await failLogin(auth.url, who, { "x-gaia-client-address": "192.0.2.66" });
      // Through the gateway a client's X-Forwarded-For is not believed either (loopback is no trusted proxy).
      await failLogin(url, who, { "x-forwarded-for": "192.0.2.77" });
      const behindIngress = await startTestGateway({
        redisUrl: redis.url,
        natsUrl: nats.url,
        urls: { auth: auth.url },
        env: { GAIA_TRUSTED_PROXIES: "127.0.0.1/32" },
      });
      try {
        // Behind a trusted proxy the client is the address that proxy names.
        await failLogin(behindIngress.url, who, { "x-forwarded-for": "203.0.113.9" });
      } finally {
        await behindIngress.close();
      }
      assert.deepEqual((await loginFailedIps(who)).sort(), ["127.0.0.1", "127.0.0.1", "203.0.113.9"]);
    });
  });

  describe("streaming", () => {
    it("delivers each SSE event when the backend writes it, not when it finishes", async () => {
      const key = await issue("user", "sse");
      const requestId = `sse-${randomBytes(4).toString("hex")}`;
      const response = await fetch(`${url}/api/v1/chat`, {
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json", "x-request-id": requestId },
        body: JSON.stringify({ message: "hi", stream: true }),
      });
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = "";
      const readUntil = async (pattern: RegExp) => {
        while (!pattern.test(text)) {
          const { done, value } = await reader.read();
          if (done) return;
          text += decoder.decode(value, { stream: true });
        }
      };
      // The backend holds event two until this test has seen event one: a buffering hop would never pass it on.
      await readUntil(/"one"/);
      assert.match(text, /"one"/);
      assert.doesNotMatch(text, /"two"/);
      backend.release(requestId);
      await readUntil(/"done"/);
      assert.match(text, /"two"[\s\S]*"done"/);
    });

    it("passes a stream's headers on at once, before its first event", async () => {
      const key = await issue("user", "headers-first");
      const requestId = `headers-${randomBytes(4).toString("hex")}`;
      // The backend holds its body until released: fetch resolves only if the headers came on their own.
      const response = await fetch(`${url}/api/v1/chat/worldbuilding`, {
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json", "x-request-id": requestId },
        body: JSON.stringify({ message: "hi" }),
      });
      assert.equal(response.status, 200);
      backend.release(requestId);
      assert.match(await response.text(), /"done"/);
    });

    it("never ends a stream cleanly when the backend breaks off half-way", async () => {
      const key = await issue("user", "broken");
      const response = await fetch(`${url}/api/v0.2/chat`, {
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json" },
        body: JSON.stringify({ message: "hi", stream: true }),
      });
      assert.equal(response.status, 200);
      const reader = response.body!.getReader();
      const first = await reader.read();
      assert.match(new TextDecoder().decode(first.value), /"half"/);
      await assert.rejects(async () => {
        for (;;) if ((await reader.read()).done) break;
      }, "the client must see the break, not a finished stream");
    });

    it("aborts the upstream request when the client goes away", async () => {
      const key = await issue("user", "leaver");
      const requestId = `leaver-${Date.now()}`;
      const controller = new AbortController();
      const response = await fetch(`${url}/api/v0.3/chat`, {
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json", "x-request-id": requestId },
        body: JSON.stringify({ message: "hi", stream: true }),
        signal: controller.signal,
      });
      const reader = response.body!.getReader();
      const { value } = await reader.read();
      assert.match(new TextDecoder().decode(value), /"one"/);
      controller.abort();
      await eventually(async () => backend.closedEarly.has(requestId), 3000);
    });
  });

  describe("CORS", () => {
    it("answers a preflight from a configured origin, and refuses others", async () => {
      const preflight = await fetch(`${url}/api/v1/chat`, {
        method: "OPTIONS",
        headers: {
          origin: "https://game.example",
          "access-control-request-method": "POST",
          "access-control-request-headers": "x-api-key, content-type",
        },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get("access-control-allow-origin"), "https://game.example");
      assert.equal(preflight.headers.get("access-control-allow-headers"), "x-api-key, content-type");
      assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /POST/);
      assert.equal(preflight.headers.get("access-control-allow-credentials"), "true");

      const stranger = await call(`${url}/api/v1/chat`, {
        method: "OPTIONS",
        headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
      });
      assert.equal(stranger.status, 403);
      assert.equal(stranger.headers.get("access-control-allow-origin"), null);
    });

    it("marks real answers (errors too) for the configured origin and exposes the rate-limit headers", async () => {
      const reply = await call(`${url}/api/v1/models`, { headers: { origin: "https://game.example" } });
      assert.equal(reply.status, 401);
      assert.equal(reply.headers.get("access-control-allow-origin"), "https://game.example");
      assert.match(reply.headers.get("access-control-expose-headers") ?? "", /RateLimit-Remaining/);
    });
  });

  describe("failures around the gateway", () => {
    it("answers 503 for a backend that is down while the others keep working, and reports degraded health", async () => {
      const key = await issue("user", "partial");
      const down = await call(`${url}/api/v1/assets`, { headers: { "x-api-key": key } });
      assert.equal(down.status, 503);
      assert.deepEqual(down.body, { detail: "asset service is unavailable" });
      const up = await call(`${url}/api/v0.2/personas`, { headers: { "x-api-key": key } });
      assert.equal(up.status, 200);

      const health = await call<{
        status: string;
        services: Record<string, { status: string }>;
        cache: { status: string };
      }>(`${url}/health`);
      assert.equal(health.status, 200);
      assert.equal(health.body.status, "degraded");
      assert.equal(health.body.services.auth?.status, "healthy");
      assert.equal(health.body.services.chat?.status, "healthy");
      assert.equal(health.body.services.kb?.status, "healthy");
      assert.equal(health.body.services.asset?.status, "unreachable");
      assert.equal(health.body.cache.status, "healthy");
    });

    it("keeps authenticating and limiting with Redis stopped mid-test", async () => {
      const known = await issue("user", "before-outage");
      const fresh = await issue("user", "during-outage");
      assert.equal((await call(`${url}/api/v0.2/personas`, { headers: { "x-api-key": known } })).status, 200);
      await redis.stop();
      try {
        for (const key of [known, fresh]) {
          const reply = await call<Seen>(`${url}/api/v0.2/personas`, { headers: { "x-api-key": key } });
          assert.equal(reply.status, 200, JSON.stringify(reply.body));
          assert.equal(reply.body.identity?.role, "user");
          assert.ok(reply.headers.get("ratelimit-remaining"), "limits counted in process meanwhile");
        }
        const bad = await call(`${url}/api/v0.2/personas`, {
          headers: { "x-api-key": `gaia_abcdefgh_${"y".repeat(40)}` },
        });
        assert.equal(bad.status, 401);
        const health = await call<{ status: string; cache: { status: string } }>(`${url}/health`);
        assert.equal(health.body.cache.status, "unavailable");
      } finally {
        await redis.start();
      }
    });
  });
});

/** How often auth answered each internal endpoint, from its own metrics. */
async function internalCalls(auth: Auth): Promise<{ authenticate: number; serviceToken: number }> {
  const text = await auth.runtime.metrics.text();
  const sum = (route: string) =>
    text
      .split("\n")
      .filter((line) => line.startsWith("gaia_http_requests_total{") && line.includes(`route="${route}"`))
      .reduce((total, line) => total + Number(line.split(" ").pop()), 0);
  return { authenticate: sum("/internal/authenticate"), serviceToken: sum("/internal/service-token") };
}
