import assert from "node:assert/strict";
import { SERVICE_BODY_LIMITS } from "@gaia/kit";
import { ROUTES } from "../src/route-table.ts";
import { compileRoutes, hasDotSegment, normalisePath } from "../src/router.ts";

const router = compileRoutes(ROUTES);

/** What a request resolves to: a backend and the path it sees, or a handler inside the gateway. */
function resolve(method: string, path: string, withCredentials = true) {
  const match = router.match(method, path, withCredentials);
  if (match.kind !== "route") return match.kind;
  const { route, upstreamPath } = match;
  return typeof route.to === "string" ? `${route.to} ${upstreamPath}` : `local:${route.to.local}`;
}

/**
 * Every gateway path of the first platform's public API map (docs/api/GAIA_API_MAP.md of the Python
 * implementation), with where it must land here. Backends mount the public paths, so most land unchanged.
 */
const API_MAP: [method: string, path: string, expected: string][] = [
  // Health & status
  ["GET", "/health", "local:health"],
  ["GET", "/", "local:root"],
  // Authentication (v1)
  ...["validate", "refresh", "register", "login", "logout"].map((op): [string, string, string] => [
    "POST",
    `/api/v1/auth/${op}`,
    `auth /api/v1/auth/${op}`,
  ]),
  // Chat (v1)
  ["POST", "/api/v1/chat", "chat /api/v1/chat"],
  ["POST", "/api/v1/chat/completions", "chat /api/v1/chat/completions"],
  ["GET", "/api/v1/chat/status", "chat /api/v1/chat/status"],
  ["DELETE", "/api/v1/chat/history", "chat /api/v1/chat/history"],
  ["POST", "/api/v1/chat/reload-prompt", "chat /api/v1/chat/reload-prompt"],
  ["DELETE", "/api/v1/conversations/c-1", "chat /api/v1/conversations/c-1"],
  ["GET", "/api/v1/chat/personas", "chat /api/v1/chat/personas"],
  ["POST", "/api/v1/chat/personas", "chat /api/v1/chat/personas"],
  // Specialized chat (v1): experimental variants answered by the unified chat
  ...[
    "mcp-agent",
    "direct",
    "mcp-agent-hot",
    "direct-db",
    "orchestrated",
    "ultrafast",
    "ultrafast-redis",
    "ultrafast-redis-v2",
    "ultrafast-redis-v3",
  ].map((name): [string, string, string] => ["POST", `/api/v1/chat/${name}`, "chat /api/v1/chat"]),
  // Multi-agent chat (v1)
  ...["gamemaster", "worldbuilding", "storytelling", "problemsolving"].map(
    (name): [string, string, string] => ["POST", `/api/v1/chat/${name}`, `chat /api/v1/chat/${name}`],
  ),
  // KB-enhanced chat (v1): the first platform sent these to the KB service
  ["POST", "/api/v1/chat/kb-enhanced", "kb /api/v0.2/kb/search"],
  ["POST", "/api/v1/chat/kb-research", "kb /api/v0.2/kb/search"],
  ["POST", "/api/v1/chat/kb-gamemaster", "kb /api/v0.2/kb/search"],
  ["POST", "/api/v1/chat/kb-development", "kb /api/v0.2/kb/search"],
  ["POST", "/api/v1/chat/kb-search", "kb /api/v0.2/kb/search"],
  ["POST", "/api/v1/chat/kb-context", "kb /api/v0.2/kb/context"],
  ["POST", "/api/v1/chat/kb-multitask", "kb /api/v0.2/kb/multitask"],
  // Assets (v1)
  ["GET", "/api/v1/assets", "asset /api/v1/assets"],
  ["POST", "/api/v1/assets/generate", "asset /api/v1/assets/generate"],
  ["GET", "/api/v1/assets/test", "asset /api/v1/assets/test"],
  ["GET", "/api/v1/assets/a-1", "asset /api/v1/assets/a-1"],
  // v0.2 base and chat
  ["GET", "/api/v0.2/", "chat /api/v0.2/"],
  ["GET", "/api/v0.2/health", "chat /api/v0.2/health"],
  ["POST", "/api/v0.2/chat", "chat /api/v0.2/chat"],
  ["GET", "/api/v0.2/chat/status", "chat /api/v0.2/chat/status"],
  ["DELETE", "/api/v0.2/chat/history", "chat /api/v0.2/chat/history"],
  ["POST", "/api/v0.2/chat/reload-prompt", "chat /api/v0.2/chat/reload-prompt"],
  ["POST", "/api/v0.2/chat/stream", "chat /api/v0.2/chat/stream"],
  // v0.2 providers and models
  ["GET", "/api/v0.2/providers", "chat /api/v0.2/providers"],
  ["GET", "/api/v0.2/providers/openai", "chat /api/v0.2/providers/openai"],
  ["GET", "/api/v0.2/providers/openai/models", "chat /api/v0.2/providers/openai/models"],
  ["GET", "/api/v0.2/providers/openai/health", "chat /api/v0.2/providers/openai/health"],
  ["GET", "/api/v0.2/providers/stats", "chat /api/v0.2/providers/stats"],
  ["GET", "/api/v0.2/models", "chat /api/v0.2/models"],
  ["GET", "/api/v0.2/models/gpt-4o-mini", "chat /api/v0.2/models/gpt-4o-mini"],
  // v0.2 asset pricing (the asset service owns pricing here)
  ["GET", "/api/v0.2/assets/pricing/current", "asset /api/v0.2/assets/pricing/current"],
  ["GET", "/api/v0.2/assets/pricing/analytics", "asset /api/v0.2/assets/pricing/analytics"],
  ["POST", "/api/v0.2/assets/pricing/update", "asset /api/v0.2/assets/pricing/update"],
  [
    "POST",
    "/api/v0.2/assets/pricing/cost-estimator/estimate",
    "asset /api/v0.2/assets/pricing/cost-estimator/estimate",
  ],
  // v0.2 usage
  ["GET", "/api/v0.2/usage/current", "chat /api/v0.2/usage/current"],
  ["GET", "/api/v0.2/usage/history", "chat /api/v0.2/usage/history"],
  ["GET", "/api/v0.2/usage/limits", "chat /api/v0.2/usage/limits"],
  // v0.2 personas
  ["GET", "/api/v0.2/personas", "chat /api/v0.2/personas"],
  ["GET", "/api/v0.2/personas/current", "chat /api/v0.2/personas/current"],
  ["GET", "/api/v0.2/personas/p-1", "chat /api/v0.2/personas/p-1"],
  ["POST", "/api/v0.2/personas", "chat /api/v0.2/personas"],
  ["PUT", "/api/v0.2/personas/p-1", "chat /api/v0.2/personas/p-1"],
  ["DELETE", "/api/v0.2/personas/p-1", "chat /api/v0.2/personas/p-1"],
  // v0.2 KB
  ...["search", "read", "context", "navigate", "list", "write", "move"].map(
    (op): [string, string, string] => ["POST", `/api/v0.2/kb/${op}`, `kb /api/v0.2/kb/${op}`],
  ),
  ["DELETE", "/api/v0.2/kb/delete", "kb /api/v0.2/kb/delete"],
  ["GET", "/api/v0.2/kb/git/status", "kb /api/v0.2/kb/git/status"],
  ["GET", "/api/v0.2/kb/cache/stats", "kb /api/v0.2/kb/cache/stats"],
  ["POST", "/api/v0.2/kb/cache/invalidate", "kb /api/v0.2/kb/cache/invalidate"],
  // v0.2 performance
  ...["summary", "providers"].map((name): [string, string, string] => [
    "GET",
    `/api/v0.2/performance/${name}`,
    `chat /api/v0.2/performance/${name}`,
  ]),
  ["GET", "/api/v0.2/performance/stages", "local:unimplemented"],
  ["GET", "/api/v0.2/performance/live", "local:unimplemented"],
  ["DELETE", "/api/v0.2/performance/reset", "chat /api/v0.2/performance/reset"],
  ["POST", "/api/v0.2/usage/log", "local:unimplemented"],
  ["POST", "/api/v1/auth/confirm", "local:unimplemented"],
  ["POST", "/api/v1/auth/resend-verification", "local:unimplemented"],
  // v0.3
  ["POST", "/api/v0.3/chat", "chat /api/v0.3/chat"],
  ["GET", "/api/v0.3/conversations", "chat /api/v0.3/conversations"],
  ["POST", "/api/v0.3/conversations", "chat /api/v0.3/conversations"],
  // Legacy
  ["POST", "/calculator/add", "local:calculator"],
];

/** The web UI's paths (the first platform's web service), reached through the gateway without credentials. */
const WEB_UI: [string, string][] = [
  ["GET", "/"],
  ["GET", "/login"],
  ["GET", "/register"],
  ["GET", "/email-verification"],
  ["GET", "/logout"],
  ["GET", "/chat"],
  ["GET", "/chat/c-1"],
  ["POST", "/chat/new"],
  ["POST", "/auth/dev-login"],
  ["POST", "/auth/test-login"],
  ["POST", "/auth/login"],
  ["POST", "/auth/register"],
  ["GET", "/auth/confirm"],
  ["POST", "/auth/resend-verification"],
  ["POST", "/api/chat/send"],
  ["GET", "/api/chat/stream"],
  ["GET", "/api/chat/response"],
  ["GET", "/api/conversations"],
  ["DELETE", "/api/conversations/c-1"],
  ["GET", "/api/search-conversations"],
  ["GET", "/debug/htmx"],
  ["GET", "/debug/swap-test"],
  ["GET", "/test/htmx"],
  ["GET", "/test/conversation-switch"],
  ["GET", "/static/app.css"],
];

describe("gateway route table", () => {
  describe("every gateway path of the first platform's API map is routed", () => {
    for (const [method, path, expected] of API_MAP) {
      it(`${method} ${path} → ${expected}`, () => assert.equal(resolve(method, path), expected));
    }
  });

  describe("the web UI's paths go to web, without credentials", () => {
    for (const [method, path] of WEB_UI) {
      it(`${method} ${path}`, () => {
        assert.equal(resolve(method, path, false), `web ${path}`);
        const match = router.match(method, path, false);
        assert.ok(match.kind === "route" && match.route.auth === "none" && !match.route.rateLimited);
      });
    }
  });

  describe("the core contract (DESIGN §5)", () => {
    const cases: [string, string, string][] = [
      ["GET", "/api/v1/auth/me", "auth /api/v1/auth/me"],
      ["GET", "/api/v1/auth/keys", "auth /api/v1/auth/keys"],
      ["POST", "/api/v1/auth/keys", "auth /api/v1/auth/keys"],
      ["DELETE", "/api/v1/auth/keys/k-1", "auth /api/v1/auth/keys/k-1"],
      ["GET", "/api/v1/auth/users", "auth /api/v1/auth/users"],
      ["PATCH", "/api/v1/auth/users/u-1", "auth /api/v1/auth/users/u-1"],
      ["GET", "/api/v1/models", "chat /api/v1/models"],
      ["GET", "/api/v1/conversations", "chat /api/v1/conversations"],
      ["GET", "/api/v1/chat/scenarios", "chat /api/v1/chat/scenarios"],
      ["GET", "/api/v0.2/chat/stream/status", "chat /api/v0.2/chat/stream/status"],
      ["GET", "/api/v1/conversations/c-1/messages", "chat /api/v1/conversations/c-1/messages"],
      ["PUT", "/api/v1/chat/personas/p-1", "chat /api/v1/chat/personas/p-1"],
      ["GET", "/api/v0.3/conversations/c-1", "chat /api/v0.3/conversations/c-1"],
      ["GET", "/api/v0.2/kb/sync/status", "kb /api/v0.2/kb/sync/status"],
      ["POST", "/api/v0.2/kb/sync/from-git", "kb /api/v0.2/kb/sync/from-git"],
      ["GET", "/api/v1/assets/a-1/file", "asset /api/v1/assets/a-1/file"],
      ["GET", "/openapi.json", "local:openapi"],
    ];
    for (const [method, path, expected] of cases) {
      it(`${method} ${path} → ${expected}`, () => assert.equal(resolve(method, path), expected));
    }
  });

  it("answers GET / for API clients (with a credential) and browsers (without) differently", () => {
    assert.equal(resolve("GET", "/", true), "local:root");
    assert.equal(resolve("GET", "/", false), "web /");
  });

  it("names no route for unknown and internal paths", () => {
    for (const path of [
      "/nope",
      "/internal/authenticate",
      "/internal/service-token",
      "/api/v9/chat",
      "/api",
    ]) {
      assert.equal(resolve("GET", path), "none", path);
      assert.equal(resolve("POST", path), "none", path);
    }
  });

  it("tells a known path with the wrong method from an unknown path", () => {
    assert.deepEqual(router.match("PUT", "/api/v1/chat", true), {
      kind: "method-not-allowed",
      allow: ["POST"],
    });
    assert.deepEqual(router.match("DELETE", "/health", false), {
      kind: "method-not-allowed",
      allow: ["GET", "HEAD"],
    });
  });

  it("gives a path named by a row of its own that row's methods only, never a prefix's", () => {
    assert.deepEqual(router.match("GET", "/api/v1/auth/login", true), {
      kind: "method-not-allowed",
      allow: ["POST"],
    });
    assert.deepEqual(router.match("OPTIONS", "/api/v0.2/chat/history", true), {
      kind: "method-not-allowed",
      allow: ["DELETE"],
    });
    assert.deepEqual(router.match("POST", "/api/v1/auth/keys/k-1", true), {
      kind: "method-not-allowed",
      allow: ["DELETE", "PATCH"],
    });
    assert.deepEqual(router.match("GET", "/api/v0.2/personas/set", true), {
      kind: "method-not-allowed",
      allow: ["POST"],
    });
    // Nor a parameter's: a literal path owns its methods.
    assert.deepEqual(router.match("GET", "/api/v1/assets/generate", true), {
      kind: "method-not-allowed",
      allow: ["POST"],
    });
    // Below such a path, the prefix still takes everything.
    assert.equal(resolve("PUT", "/api/v1/auth/keys/k-1/label"), "auth /api/v1/auth/keys/k-1/label");
  });

  it("accepts HEAD wherever GET is accepted", () => {
    assert.equal(resolve("HEAD", "/api/v1/models"), "chat /api/v1/models");
  });

  it("prefers a literal path over a parameter, and a parameter over a prefix", () => {
    assert.equal(resolve("GET", "/api/v1/assets/test"), "asset /api/v1/assets/test");
    const one = router.match("DELETE", "/api/v1/auth/keys/k-1", true);
    assert.ok(one.kind === "route" && one.route.path === "/api/v1/auth/keys/{id}");
    const deep = router.match("DELETE", "/api/v1/auth/keys/k-1/x", true);
    assert.ok(deep.kind === "route" && deep.route.path === "/api/v1/auth/{path+}");
  });

  describe("terms per route", () => {
    const terms = (method: string, path: string, withCredentials = true) => {
      const match = router.match(method, path, withCredentials);
      assert.equal(match.kind, "route", `${method} ${path}`);
      const { route } = match as Extract<typeof match, { kind: "route" }>;
      return {
        auth: route.auth,
        timeout: route.timeout,
        bodyLimit: route.bodyLimit,
        limited: route.rateLimited,
      };
    };
    const table: [string, string, Partial<ReturnType<typeof terms>>][] = [
      ["GET", "/health", { auth: "none", limited: false }],
      ["GET", "/openapi.json", { auth: "none", limited: false }],
      ["POST", "/api/v1/auth/register", { auth: "none", limited: true, bodyLimit: 64 * 1024 }],
      ["POST", "/api/v1/auth/login", { auth: "none", limited: true }],
      ["POST", "/api/v1/auth/refresh", { auth: "none", limited: true }],
      ["POST", "/api/v1/auth/logout", { auth: "optional" }],
      ["GET", "/api/v1/auth/me", { auth: "required" }],
      ["POST", "/api/v1/chat", { auth: "required", timeout: "stream", bodyLimit: 4 * 1024 * 1024 }],
      ["POST", "/api/v1/chat/completions", { auth: "required", timeout: "stream" }],
      ["POST", "/api/v0.3/chat", { timeout: "stream" }],
      ["GET", "/api/v1/models", { auth: "required", timeout: "default", bodyLimit: 1024 * 1024 }],
      ["POST", "/api/v1/assets/generate", { auth: "required", timeout: "long", bodyLimit: 16 * 1024 * 1024 }],
      ["POST", "/api/v0.2/kb/write", { auth: "required", bodyLimit: 16 * 1024 * 1024 }],
      ["POST", "/api/v0.2/kb/sync/from-git", { timeout: "long" }],
      ["POST", "/calculator/add", { auth: "none", bodyLimit: 1024 }],
      ["GET", "/login", { auth: "none", limited: false }],
    ];
    for (const [method, path, expected] of table) {
      it(`${method} ${path}: ${JSON.stringify(expected)}`, () => {
        const actual = terms(method, path);
        for (const [key, value] of Object.entries(expected))
          assert.equal(actual[key as keyof typeof actual], value, key);
      });
    }

    it("never lets through a body its backend would refuse: each backend parses exactly its largest route's", () => {
      for (const target of ["auth", "asset", "chat", "kb", "web"] as const) {
        const limits = ROUTES.filter((r) => r.to === target).map((r) => r.bodyLimit);
        assert.equal(Math.max(...limits), SERVICE_BODY_LIMITS[target], target);
      }
    });

    it("requires a credential on every backend route except the public few", () => {
      const open = ROUTES.filter((r) => typeof r.to === "string" && r.to !== "web" && r.auth === "none").map(
        (r) => r.path,
      );
      assert.deepEqual(open.sort(), ["/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/register"]);
    });
  });

  it("has no two rows for the same method and path (except GET /, split on credentials)", () => {
    const seen = new Map<string, number>();
    for (const route of ROUTES)
      for (const method of route.methods) {
        const key = `${method} ${route.path}${route.whenCredentials ? " (credentials)" : ""}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }
    assert.deepEqual(
      [...seen].filter(([, n]) => n > 1),
      [],
    );
  });

  it("normalises one trailing slash and refuses dot segments", () => {
    assert.equal(normalisePath("/api/v0.2/"), "/api/v0.2");
    assert.equal(normalisePath("/"), "/");
    for (const bad of ["/api/v1/assets/../../internal/x", "/api/v1/assets/%2e%2e/x", "/a/./b", "/a/%2E/b"])
      assert.equal(hasDotSegment(bad), true, bad);
    for (const good of ["/api/v0.2/chat", "/static/app.min.js", "/api/v1/assets/a..b", "/x/%20y"])
      assert.equal(hasDotSegment(good), false, good);
  });

  it("refuses a malformed table at compile time", () => {
    const base = ROUTES[0]!;
    assert.throws(() => compileRoutes([{ ...base, path: "/a/{rest+}/b" }]), /must come last/);
    assert.throws(() => compileRoutes([{ ...base, path: "/a/x{id}" }]), /must fill its segment/);
  });
});
