import { type BackendName, BODY_LIMITS } from "@gaia/kit";

/**
 * The public API as data: every path the gateway answers, where it goes, and on what terms. The gateway's
 * behaviour, its OpenAPI document and its tests are all derived from this one list.
 *
 * Backends mount their public paths at the same full path the client uses (`/api/v1/chat` on chat,
 * `/api/v1/auth/login` on auth), so most rows forward unchanged; `rewrite` names a different upstream path
 * only where the old platform exposed an alias (the experimental chat variants, the KB-flavoured chat paths).
 *
 * Path syntax: literal segments, `{name}` for one segment, and a final `{name+}` for one or more segments
 * (a prefix: the path itself and everything below it).
 */

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
export type Target = BackendName | "web";
/** `required`: no credential, no entry. `optional`: a credential, when given, must be valid and is passed on. */
export type AuthMode = "required" | "optional" | "none";
/** Upstream time limits, configured per class: `stream` for LLM calls and SSE, `long` for asset generation. */
export type TimeoutClass = "default" | "stream" | "long";
/** Answered by the gateway itself. */
export type LocalHandler = "health" | "openapi" | "root" | "calculator" | "unimplemented";
/** Request body schemas named in the OpenAPI document (see openapi.ts). */
export type SchemaName =
  | "ChatRequest"
  | "ChatCompletionRequest"
  | "ConversationRequest"
  | "PersonaRequest"
  | "PersonaSelection"
  | "RegisterRequest"
  | "LoginRequest"
  | "RefreshRequest"
  | "LogoutRequest"
  | "ApiKeyRequest"
  | "ApiKeyUpdate"
  | "UserUpdate"
  | "AssetRequest"
  | "AssetPriceUpdate"
  | "KbSearch"
  | "KbRead"
  | "KbList"
  | "KbNavigate"
  | "KbContext"
  | "KbWrite"
  | "KbMove"
  | "KbDelete"
  | "KbPermission"
  | "KbResolve"
  | "CalculatorRequest";

export interface Route {
  methods: readonly Method[];
  path: string;
  /** A backend, or a handler inside the gateway. */
  to: Target | { local: LocalHandler };
  /** The upstream path when it differs from the public one; `{name}` placeholders are filled from the path. */
  rewrite?: string;
  auth: AuthMode;
  timeout: TimeoutClass;
  /** Largest request body in bytes; larger answers 413. */
  bodyLimit: number;
  /** Counted against the caller's rate limit (false for probes and the web UI's pages and static files). */
  rateLimited: boolean;
  /** Only when the request carries a credential: lets `GET /` answer API clients and browsers differently. */
  whenCredentials?: true;
  tag: string;
  summary: string;
  body?: SchemaName;
  /** The answer may be a text/event-stream. */
  streams?: true;
  /** A POST answers 201 Created; `empty`: the answer is 204 No Content. */
  created?: true;
  empty?: true;
  /** Statuses this row answers beyond those its terms imply (see openapi.ts). */
  statuses?: readonly number[];
  /** Said in the OpenAPI document under the summary. */
  description?: string;
}

/** Backends the first platform had and this release does not include yet: the gateway answers 503 for them. */
const notYet = (service: string) =>
  `Answered by the ${service} service, which this release does not include yet: until it runs, the gateway ` +
  "answers 503.";

const { small: SMALL, default: DEFAULT, chat: CHAT, upload: UPLOAD } = BODY_LIMITS;

type Base = Omit<Route, "methods" | "path" | "summary">;
const authRoute: Base = {
  to: "auth",
  auth: "required",
  timeout: "default",
  bodyLimit: SMALL,
  rateLimited: true,
  tag: "Auth",
};
const chatRoute: Base = {
  to: "chat",
  auth: "required",
  timeout: "default",
  bodyLimit: DEFAULT,
  rateLimited: true,
  tag: "Chat",
};
const chatCall: Base = {
  ...chatRoute,
  timeout: "stream",
  bodyLimit: CHAT,
  body: "ChatRequest",
  streams: true,
  // A blank message; a conversation or persona not found; a model not available here; the provider failing.
  statuses: [400, 404, 422, 502, 504],
};
const assetRoute: Base = {
  to: "asset",
  auth: "required",
  timeout: "default",
  bodyLimit: DEFAULT,
  rateLimited: true,
  tag: "Assets",
  // Over budget (402); a finished job (409); an unsupported request (422); a provider failing (502).
  statuses: [402, 404, 409, 422],
};
const kbRoute: Base = {
  to: "kb",
  auth: "required",
  timeout: "default",
  bodyLimit: DEFAULT,
  rateLimited: true,
  tag: "Knowledge base",
  // A path that is not permitted or not text; a stale version or an existing target; a file too large.
  statuses: [404, 409, 413, 415, 422],
};
const webPage: Base = {
  to: "web",
  auth: "none",
  timeout: "default",
  bodyLimit: DEFAULT,
  rateLimited: false,
  tag: "Web UI",
  description: notYet("web"),
};

const route = (
  methods: readonly Method[],
  path: string,
  summary: string,
  base: Base,
  extra: Partial<Base> = {},
): Route => ({
  ...base,
  ...extra,
  methods,
  path,
  summary,
});
const conversations: Partial<Base> = { body: "ConversationRequest", created: true, statuses: [404] };
const personas: Partial<Base> = { body: "PersonaRequest", created: true };
const GET = ["GET"] as const;
const POST = ["POST"] as const;
const DELETE = ["DELETE"] as const;
const ANY = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

/** Experimental chat endpoints of the first implementation; each is answered by the unified chat. */
const CHAT_VARIANTS = [
  "mcp-agent",
  "mcp-agent-hot",
  "direct",
  "direct-db",
  "orchestrated",
  "ultrafast",
  "ultrafast-redis",
  "ultrafast-redis-v2",
  "ultrafast-redis-v3",
] as const;
const SCENARIOS = ["gamemaster", "worldbuilding", "storytelling", "problemsolving"] as const;
/** The first implementation sent these KB-flavoured chat paths to the KB service: search, context, multitask. */
const KB_CHAT: Record<string, string> = {
  "kb-enhanced": "search",
  "kb-research": "search",
  "kb-gamemaster": "search",
  "kb-development": "search",
  "kb-search": "search",
  "kb-context": "context",
  "kb-multitask": "multitask",
};
const KB_OPERATIONS = {
  search: "KbSearch",
  read: "KbRead",
  context: "KbContext",
  navigate: "KbNavigate",
  list: "KbList",
  write: "KbWrite",
  move: "KbMove",
  multitask: "KbSearch",
} as const satisfies Record<string, SchemaName>;

/**
 * A path of the first platform's API that this release does not offer: the gateway answers 501 with `detail`,
 * and the OpenAPI document says so.
 */
const unimplemented = (
  path: string,
  summary: string,
  tag: string,
  detail: string,
  methods: readonly Method[] = POST,
): Route => ({
  methods,
  path,
  to: { local: "unimplemented" },
  auth: "optional",
  timeout: "default",
  bodyLimit: SMALL,
  rateLimited: true,
  tag,
  summary,
  description: detail,
  statuses: [501],
});

export const ROUTES: readonly Route[] = [
  // The gateway itself.
  {
    methods: GET,
    path: "/health",
    to: { local: "health" },
    auth: "none",
    timeout: "default",
    bodyLimit: 0,
    rateLimited: false,
    tag: "Gateway",
    summary: "Gateway status with each backend's; degraded, not failing, when one is down",
  },
  {
    methods: GET,
    path: "/openapi.json",
    to: { local: "openapi" },
    auth: "none",
    timeout: "default",
    bodyLimit: 0,
    rateLimited: false,
    tag: "Gateway",
    summary: "This document",
  },
  {
    methods: GET,
    path: "/",
    to: { local: "root" },
    auth: "required",
    timeout: "default",
    bodyLimit: 0,
    rateLimited: true,
    whenCredentials: true,
    tag: "Gateway",
    summary: "API versions (with a credential; without one, the web UI's home page)",
    description: `Without a credential this is the web UI's home page. ${notYet("web")}`,
    statuses: [503],
  },
  {
    methods: POST,
    path: "/calculator/add",
    to: { local: "calculator" },
    auth: "none",
    timeout: "default",
    bodyLimit: 1024,
    rateLimited: true,
    tag: "Legacy",
    summary: "Legacy calculator of the first platform: {a, b} → {result}",
    body: "CalculatorRequest",
  },

  // Auth: sign-up and sign-in are public; the rest carries the caller.
  route(POST, "/api/v1/auth/register", "Register with email and password", authRoute, {
    auth: "none",
    body: "RegisterRequest",
    created: true,
    statuses: [409],
  }),
  route(POST, "/api/v1/auth/login", "Log in; answers access and refresh tokens", authRoute, {
    auth: "none",
    body: "LoginRequest",
    statuses: [401, 403],
  }),
  route(POST, "/api/v1/auth/refresh", "Exchange a refresh token for new tokens", authRoute, {
    auth: "none",
    body: "RefreshRequest",
    statuses: [401, 403],
  }),
  route(POST, "/api/v1/auth/logout", "Log out (revokes the refresh token)", authRoute, {
    auth: "optional",
    body: "LogoutRequest",
    empty: true,
  }),
  route(POST, "/api/v1/auth/validate", "Validate a JWT or API key", authRoute, { auth: "optional" }),
  // The first platform's email confirmation: this auth service signs users in without it.
  ...["confirm", "resend-verification"].map((name) =>
    unimplemented(
      `/api/v1/auth/${name}`,
      name === "confirm" ? "Confirm an email address" : "Resend the verification email",
      "Auth",
      "Email verification is not part of this release: an account can sign in as soon as it is registered.",
    ),
  ),
  route(GET, "/api/v1/auth/me", "The caller", authRoute),
  route(GET, "/api/v1/auth/keys", "The caller's API keys", authRoute),
  route(POST, "/api/v1/auth/keys", "Create an API key (shown once)", authRoute, {
    body: "ApiKeyRequest",
    created: true,
  }),
  route(["PATCH"], "/api/v1/auth/keys/{id}", "Rename an API key or change its budget", authRoute, {
    body: "ApiKeyUpdate",
    statuses: [404],
  }),
  route(DELETE, "/api/v1/auth/keys/{id}", "Revoke an API key", authRoute, { empty: true }),
  route(GET, "/api/v1/auth/users", "Users (admin)", authRoute, { statuses: [422] }),
  route(["PATCH"], "/api/v1/auth/users/{id}", "Change a user's role or disable them (admin)", authRoute, {
    body: "UserUpdate",
    statuses: [409],
  }),
  route(ANY, "/api/v1/auth/{path+}", "Other auth endpoints", authRoute, { auth: "optional" }),

  // Chat, v1 and the OpenAI-compatible surface.
  route(POST, "/api/v1/chat", "Unified chat; `stream: true` answers SSE", chatCall),
  route(POST, "/api/v1/chat/completions", "OpenAI-compatible chat completions", chatCall, {
    body: "ChatCompletionRequest",
    statuses: [422, 502, 504],
  }),
  route(GET, "/api/v1/models", "OpenAI-compatible model list", chatRoute),
  route(GET, "/api/v1/models/{model}", "OpenAI-compatible model", chatRoute),
  route(GET, "/api/v1/chat/status", "Chat history status", chatRoute),
  route(DELETE, "/api/v1/chat/history", "Clear chat history", chatRoute),
  route(POST, "/api/v1/chat/reload-prompt", "Reload the system prompt", chatRoute),
  route(["GET", "POST"], "/api/v1/chat/personas", "List or create personas", chatRoute, personas),
  route(POST, "/api/v1/chat/personas/set", "Choose the persona new conversations start with", chatRoute, {
    body: "PersonaSelection",
  }),
  route(ANY, "/api/v1/chat/personas/{path+}", "A persona", chatRoute, { statuses: [409] }),
  ...SCENARIOS.map((name) => route(POST, `/api/v1/chat/${name}`, `Multi-agent scenario: ${name}`, chatCall)),
  ...CHAT_VARIANTS.map((name) =>
    route(POST, `/api/v1/chat/${name}`, `Experimental variant, answered by the unified chat`, chatCall, {
      rewrite: "/api/v1/chat",
    }),
  ),
  ...Object.entries(KB_CHAT).map(([name, operation]) =>
    route(POST, `/api/v1/chat/${name}`, `KB ${operation} (legacy chat path)`, kbRoute, {
      rewrite: `/api/v0.2/kb/${operation}`,
      body: KB_OPERATIONS[operation as keyof typeof KB_OPERATIONS],
    }),
  ),
  route(ANY, "/api/v1/chat/{path+}", "Other chat endpoints (the scenario list, ...)", chatRoute),
  route(["GET", "POST"], "/api/v1/conversations", "List or create conversations", chatRoute, conversations),
  route(ANY, "/api/v1/conversations/{path+}", "A conversation and its messages", chatRoute),

  // Chat, v0.2.
  route(GET, "/api/v0.2", "v0.2 API information", chatRoute, { auth: "optional" }),
  route(GET, "/api/v0.2/health", "v0.2 health", chatRoute, { auth: "optional" }),
  route(POST, "/api/v0.2/chat", "v0.2 chat (streaming or not)", chatCall),
  route(POST, "/api/v0.2/chat/stream", "v0.2 chat, always streaming", chatCall),
  route(GET, "/api/v0.2/chat/status", "v0.2 chat status", chatRoute),
  route(DELETE, "/api/v0.2/chat/history", "v0.2 clear history", chatRoute),
  route(POST, "/api/v0.2/chat/reload-prompt", "v0.2 reload prompt", chatRoute),
  route(ANY, "/api/v0.2/chat/{path+}", "Other v0.2 chat endpoints (streaming cache, status, ...)", chatRoute),
  route(GET, "/api/v0.2/providers", "LLM providers", chatRoute),
  route(GET, "/api/v0.2/providers/{path+}", "A provider, its models, health and stats", chatRoute),
  route(GET, "/api/v0.2/models", "LLM models", chatRoute),
  route(GET, "/api/v0.2/models/{path+}", "A model", chatRoute),
  route(["GET", "POST"], "/api/v0.2/personas", "List or create personas", chatRoute, personas),
  route(POST, "/api/v0.2/personas/set", "Choose the persona new conversations start with", chatRoute, {
    body: "PersonaSelection",
  }),
  route(ANY, "/api/v0.2/personas/{path+}", "A persona; current; set", chatRoute, { statuses: [409] }),
  unimplemented(
    "/api/v0.2/usage/log",
    "Log usage",
    "Chat",
    "Usage is recorded by the services that incur it; a client cannot log usage of its own.",
  ),
  route(ANY, "/api/v0.2/usage/{path+}", "Usage: current, history, limits", chatRoute),
  route(
    GET,
    "/api/v0.2/performance/summary",
    "Provider performance of this chat replica, all providers",
    chatRoute,
  ),
  route(
    GET,
    "/api/v0.2/performance/providers",
    "Provider performance of this chat replica, per provider",
    chatRoute,
  ),
  route(
    DELETE,
    "/api/v0.2/performance/reset",
    "Start this chat replica's counters afresh (admins)",
    chatRoute,
  ),
  ...(["stages", "live"] as const).map((name) =>
    unimplemented(
      `/api/v0.2/performance/${name}`,
      name === "stages" ? "Timing of each stage of a chat turn" : "Live performance metrics",
      "Chat",
      `${name === "stages" ? "Per-stage timing" : "A live view"} is not recorded by this release: see ` +
        "/api/v0.2/performance/summary and the Prometheus metrics on each service's metrics port.",
      GET,
    ),
  ),

  // Chat, v0.3 (the clean interface).
  route(POST, "/api/v0.3/chat", "v0.3 chat (clean format)", chatCall),
  route(["GET", "POST"], "/api/v0.3/conversations", "List or create conversations", chatRoute, conversations),
  route(ANY, "/api/v0.3/conversations/{path+}", "A conversation", chatRoute),

  // Assets.
  route(GET, "/api/v1/assets", "List assets", assetRoute),
  route(POST, "/api/v1/assets/generate", "Generate an asset (201 done, 202 a job)", assetRoute, {
    timeout: "long",
    bodyLimit: UPLOAD,
    body: "AssetRequest",
    created: true,
    statuses: [...assetRoute.statuses!, 202],
  }),
  route(GET, "/api/v1/assets/test", "Asset service test endpoint", assetRoute, { auth: "optional" }),
  route(
    GET,
    "/api/v1/assets/jobs/{id}/events",
    "A job's progress as SSE (Last-Event-ID resumes)",
    assetRoute,
    {
      timeout: "stream",
      streams: true,
    },
  ),
  route(ANY, "/api/v1/assets/{path+}", "An asset, its files and jobs", assetRoute, {
    timeout: "long",
    statuses: [...assetRoute.statuses!, 204, 206, 304, 410, 416],
  }),
  route(
    POST,
    "/api/v0.2/assets/pricing/cost-estimator/estimate",
    "The plan for a request, without spending",
    assetRoute,
    {
      body: "AssetRequest",
    },
  ),
  route(POST, "/api/v0.2/assets/pricing/update", "Set a provider's price (admins)", assetRoute, {
    body: "AssetPriceUpdate",
  }),
  route(ANY, "/api/v0.2/assets/pricing/{path+}", "Asset pricing and analytics", assetRoute),

  // Knowledge base.
  ...Object.entries(KB_OPERATIONS).map(([op, body]) =>
    route(POST, `/api/v0.2/kb/${op}`, `KB ${op}`, kbRoute, {
      body,
      // A new file answers 201, a changed one 200.
      ...(op === "write" ? { bodyLimit: UPLOAD, statuses: [...kbRoute.statuses!, 201] } : {}),
      ...(op === "multitask" ? { description: "Answered as a KB search of the message" } : {}),
    }),
  ),
  route(DELETE, "/api/v0.2/kb/delete", "KB delete", kbRoute, { body: "KbDelete" }),
  route(GET, "/api/v0.2/kb/git/status", "KB Git status", kbRoute),
  route(["GET", "POST"], "/api/v0.2/kb/permissions", "KB path rules (admins): list or grant", kbRoute, {
    body: "KbPermission",
    created: true,
  }),
  route(POST, "/api/v0.2/kb/conflicts/{id}/resolve", "Resolve a KB sync conflict", kbRoute, {
    body: "KbResolve",
  }),
  route(ANY, "/api/v0.2/kb/sync/{path+}", "KB sync with Git", kbRoute, { timeout: "long" }),
  route(ANY, "/api/v0.2/kb/{path+}", "Other KB endpoints (status, cache, conflicts, rules)", kbRoute, {
    statuses: [...kbRoute.statuses!, 204],
  }),

  // The web UI: pages, forms and its own JSON endpoints, public here (the web service keeps its sessions).
  route(GET, "/", "Web UI home", webPage),
  ...["/login", "/register", "/logout", "/email-verification"].map((path) =>
    route(GET, path, `Web UI ${path.slice(1)} page`, webPage),
  ),
  route(GET, "/chat", "Web UI chat", webPage),
  route(["GET", "POST"], "/chat/{path+}", "Web UI conversation", webPage),
  route(["GET", "POST"], "/auth/{path+}", "Web UI sign-in forms", webPage),
  route(ANY, "/api/chat/{path+}", "Web UI chat calls", webPage, { timeout: "stream", streams: true }),
  route(["GET"], "/api/conversations", "Web UI conversation list", webPage),
  route(ANY, "/api/conversations/{path+}", "Web UI conversation", webPage),
  route(GET, "/api/search-conversations", "Web UI conversation search", webPage),
  route(GET, "/static/{path+}", "Web UI static files", webPage),
  route(GET, "/debug/{path+}", "Web UI debug pages", webPage),
  route(GET, "/test/{path+}", "Web UI test pages", webPage),
];
