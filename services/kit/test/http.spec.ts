import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { z } from "zod";
import { platformEnv, readEnv } from "../src/config.ts";
import { HttpError } from "../src/errors.ts";
import { createApp } from "../src/http/app.ts";
import { MetricsHub, mergeExpositions, serveMetrics } from "../src/http/metrics.ts";
import { type Listening, listen, reachableUrl } from "../src/http/serve.ts";
import { openSse } from "../src/http/sse.ts";
import { createLogger } from "../src/log.ts";
import { type Runtime, serviceContext } from "../src/runtime.ts";
import { parseInput } from "../src/validate.ts";

const log = createLogger("test", "silent");

describe("http app", () => {
  let server: Listening;
  let registry: Registry;

  before(async () => {
    const { app, metrics } = createApp({
      name: "kit-test",
      log,
      bodyLimit: "1kb",
      routes(app) {
        app.post("/echo", (req, res) =>
          res.json(parseInput(z.object({ name: z.string().min(1) }), req.body)),
        );
        app.get("/teapot", () => {
          throw new HttpError(418, "short and stout", { code: "teapot" });
        });
        // Keeps whatever it is sent, so every string of the body is checked as read.
        app.post("/anything", (req, res) => {
          parseInput(z.unknown(), req.body);
          res.json({ accepted: true });
        });
        app.get("/things/:name", (req, res) => res.json({ name: req.params.name, query: req.query }));
        app.get("/boom", async () => {
          throw new Error("secret internals at /srv/app.ts:12");
        });
      },
    });
    registry = metrics.registry;
    server = await listen(app, 0, log, "127.0.0.1");
  });

  after(() => server.close(1000));

  it("answers unknown paths with a JSON 404", async () => {
    const res = await fetch(`${server.url}/nope`);
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { detail: "No route for GET /nope" });
  });

  it("rejects a body over the limit with 413", async () => {
    const res = await fetch(`${server.url}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "x".repeat(2000) }),
    });
    assert.equal(res.status, 413);
    assert.deepEqual(await res.json(), { detail: "Request body too large" });
  });

  it("rejects malformed JSON with 400", async () => {
    const res = await fetch(`${server.url}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { detail: "Request body is not valid JSON" });
  });

  it("names each invalid field with 422", async () => {
    const res = await fetch(`${server.url}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(res.status, 422);
    const body = (await res.json()) as { detail: string; errors: string[] };
    assert.match(body.detail, /^name: /);
    assert.equal(body.errors.length, 1);
  });

  it("refuses text PostgreSQL cannot store with 422, naming body fields, keys, query and path", async () => {
    const post = (body: string) =>
      fetch(`${server.url}/anything`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
    const nul = "contains a NUL character (\\u0000), which cannot be stored";
    const cases: [Promise<Response>, string[]][] = [
      [post('{"messages":[{"content":"ok"},{"content":"a\\u0000"}]}'), [`messages.1.content: ${nul}`]],
      [
        post('{"a":{"k\\ud800":1},"b":"\\udfff"}'),
        [
          'a: key "k\\ud800" contains an unpaired UTF-16 surrogate (\\ud800), which is not valid Unicode text',
          "b: contains an unpaired UTF-16 surrogate (\\udfff), which is not valid Unicode text",
        ],
      ],
      [post(`${"[".repeat(400)}"\\u0000"${"]".repeat(400)}`), [`…${".0".repeat(32)}: ${nul}`]],
      [fetch(`${server.url}/things/x?q=a%00b`), [`q: ${nul}`]],
      [fetch(`${server.url}/things/x?a%00=1`), [`key "a\\u0000" ${nul}`]],
      [fetch(`${server.url}/things/x%00y`), [`path: ${nul}`]],
      [fetch(`${server.url}/nowhere%00`), [`path: ${nul}`]],
    ];
    for (const [reply, errors] of cases) {
      const res = await reply;
      assert.equal(res.status, 422);
      assert.deepEqual(await res.json(), { detail: errors.join("; "), errors });
    }
  });

  it("ignores what a schema drops: a field it does not know is never stored", async () => {
    const res = await fetch(`${server.url}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"name":"ok","x\\u0000":"y\\u0000"}',
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { name: "ok" });
  });

  it("lets storable text through unchanged, and leaves undecodable paths to the router", async () => {
    const res = await fetch(`${server.url}/anything`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ emoji: "\ud83d\ude00", "\u{10ffff}": ["\ufffe"] }),
    });
    assert.equal(res.status, 200);
    const query = await fetch(`${server.url}/things/%F0%9F%98%80?q=%E2%82%AC`);
    assert.deepEqual(await query.json(), { name: "\ud83d\ude00", query: { q: "\u20ac" } });
    const undecodable = await fetch(`${server.url}/things/%ED%A0%80`);
    assert.equal(undecodable.status, 400);
    assert.deepEqual(await undecodable.json(), { detail: "Bad request" });
  });

  it("shapes thrown HttpErrors and hides other errors", async () => {
    const teapot = await fetch(`${server.url}/teapot`);
    assert.equal(teapot.status, 418);
    assert.deepEqual(await teapot.json(), { detail: "short and stout", code: "teapot" });
    const boom = await fetch(`${server.url}/boom`);
    assert.equal(boom.status, 500);
    const text = await boom.text();
    assert.deepEqual(JSON.parse(text), { detail: "Internal server error" });
    assert.ok(!text.includes("srv/app.ts"));
  });

  it("echoes a sane X-Request-Id and replaces a hostile one", async () => {
    const given = await fetch(`${server.url}/health`, { headers: { "x-request-id": "abc-123" } });
    assert.equal(given.headers.get("x-request-id"), "abc-123");
    const hostile = await fetch(`${server.url}/health`, { headers: { "x-request-id": "a b\u00e9<script>" } });
    assert.match(hostile.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  });

  it("serves health and readiness, and Prometheus metrics by route on the metrics port only", async () => {
    assert.deepEqual(await (await fetch(`${server.url}/health`)).json(), {
      status: "healthy",
      service: "kit-test",
    });
    assert.equal((await fetch(`${server.url}/ready`)).status, 200);
    const onPublicPort = await fetch(`${server.url}/metrics`);
    assert.equal(onPublicPort.status, 404, "metrics are not on the service's own port");
    assert.ok(((await onPublicPort.json()) as { detail?: string }).detail);

    const hub = new MetricsHub();
    hub.add(registry);
    const metricsPort = await serveMetrics(hub, 0, "127.0.0.1");
    try {
      const scraped = await fetch(metricsPort.url);
      assert.equal(scraped.status, 200);
      const metrics = await scraped.text();
      assert.match(
        metrics,
        /gaia_http_requests_total\{method="GET",route="\/teapot",status="418",service="kit-test"\} 1/,
      );
      assert.match(metrics, /gaia_http_request_duration_seconds_bucket/);
      assert.equal((await fetch(metricsPort.url.replace("/metrics", "/health"))).status, 404);
    } finally {
      await metricsPort.close();
    }
  });

  it("merges the metrics of several services into one valid exposition", () => {
    const help = (n: string) => `# HELP ${n} help\n# TYPE ${n} counter\n`;
    const merged = mergeExpositions([
      `${help("a_total")}a_total{service="auth"} 1\n${help("b_total")}b_total{service="auth"} 2\n`,
      `${help("a_total")}a_total{service="chat"} 3\n`,
    ]);
    assert.equal(
      merged,
      `${help("a_total")}a_total{service="auth"} 1\na_total{service="chat"} 3\n${help("b_total")}b_total{service="auth"} 2\n`,
    );
  });
});

describe("where a service listens", () => {
  for (const [bind, address] of [
    [undefined, "127.0.0.1"],
    ["0.0.0.0", "0.0.0.0"],
  ] as const) {
    it(`listens on ${address} ${bind ? `with GAIA_BIND=${bind}` : "when GAIA_BIND is unset"}`, async () => {
      const env = readEnv(platformEnv, bind ? { GAIA_BIND: bind } : {});
      const ctx = serviceContext({ env, log } as Runtime, "gateway", { port: 0 });
      const server = await listen(
        createApp({ name: "bind-test", log, routes() {} }).app,
        ctx.port,
        log,
        ctx.host,
      );
      try {
        assert.equal((server.server.address() as AddressInfo).address, address);
        assert.equal((await fetch(`${server.url}/health`)).status, 200);
      } finally {
        await server.close(1000);
      }
    });
  }

  it("names a URL that reaches the address it listens on", () => {
    assert.equal(reachableUrl("127.0.0.1", 8666), "http://127.0.0.1:8666");
    assert.equal(reachableUrl("0.0.0.0", 8666), "http://127.0.0.1:8666");
    assert.equal(reachableUrl("::", 8666), "http://[::1]:8666");
    assert.equal(reachableUrl("10.1.2.3", 8001), "http://10.1.2.3:8001");
    assert.equal(reachableUrl("fd00::5", 8001), "http://[fd00::5]:8001");
  });
});

describe("graceful shutdown", () => {
  it("finishes an in-flight request and ends open streams cleanly before closing", async () => {
    let release: () => void = () => {};
    const { app } = createApp({
      name: "shutdown-test",
      log,
      routes(app) {
        app.get("/slow", async (_req, res) => {
          await new Promise<void>((resolve) => {
            release = resolve;
          });
          res.json({ finished: true });
        });
        app.get("/stream", (req, res) => {
          const sse = openSse(req, res);
          sse.send({ n: 1 });
          sse.signal.addEventListener("abort", () => {
            sse.send({ type: "done", reason: "shutdown" });
            sse.end();
          });
        });
      },
    });
    const server = await listen(app, 0, log, "127.0.0.1");
    const slow = fetch(`${server.url}/slow`);
    const stream = await fetch(`${server.url}/stream`);
    const streamText = stream.text();
    await new Promise((r) => setTimeout(r, 50));

    const closing = server.close(2000);
    await new Promise((r) => setTimeout(r, 100));
    // New connections are refused while the old ones finish.
    await assert.rejects(fetch(`${server.url}/health`));
    release();
    const res = await slow;
    assert.deepEqual(await res.json(), { finished: true });
    assert.equal(await streamText, 'data: {"n":1}\n\ndata: {"type":"done","reason":"shutdown"}\n\n');
    await closing;
  });
});

describe("security headers", () => {
  it("sends helmet's headers on every response, computed once", async () => {
    const { app } = createApp({ name: "headers-test", log, routes() {} });
    const server = await listen(app, 0, log, "127.0.0.1");
    try {
      for (const path of ["/health", "/nope"]) {
        const res = await fetch(`${server.url}${path}`);
        assert.equal(res.headers.get("x-content-type-options"), "nosniff");
        assert.equal(res.headers.get("x-frame-options"), "SAMEORIGIN");
        assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'self'/);
        assert.equal(res.headers.get("x-powered-by"), null);
      }
    } finally {
      await server.close(1000);
    }
  });
});
