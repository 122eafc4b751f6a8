import { PERMISSIONS, ROLES } from "@gaia/kit";
import type { Method, Route, SchemaName } from "./route-table.ts";

/**
 * The OpenAPI 3.1 document of the public API, made from the route table (paths, methods, security, limits)
 * and the few request and response shapes every client needs. Built once at start-up.
 */

type Json = Record<string, unknown>;

const object = (properties: Json, required: string[] = [], extra: Json = {}): Json => ({
  type: "object",
  properties,
  ...(required.length ? { required } : {}),
  ...extra,
});
const string = (extra: Json = {}): Json => ({ type: "string", ...extra });
const open = (description: string): Json => ({ type: "object", additionalProperties: true, description });

const REQUEST_SCHEMAS: Record<SchemaName, Json> = {
  ChatRequest: object(
    {
      message: string(),
      conversation_id: string(),
      persona_id: string(),
      model: string(),
      stream: { type: "boolean", description: "Answer as Server-Sent Events" },
    },
    ["message"],
  ),
  ChatCompletionRequest: object(
    {
      model: string(),
      messages: {
        type: "array",
        items: object({ role: string(), content: { type: ["string", "array"] } }, ["role", "content"]),
      },
      stream: { type: "boolean" },
    },
    ["model", "messages"],
    { additionalProperties: true, description: "OpenAI chat.completions request" },
  ),
  Credentials: object({ email: string({ format: "email" }), password: string() }, ["email", "password"]),
  RefreshRequest: object({ refresh_token: string() }, ["refresh_token"]),
  ApiKeyRequest: object(
    {
      name: string(),
      permissions: { type: "array", items: { enum: [...PERMISSIONS] } },
      expires_at: string({ format: "date-time" }),
    },
    ["name"],
  ),
  UserUpdate: object({ role: { enum: [...ROLES] }, disabled: { type: "boolean" } }),
  AssetRequest: open("What to generate: prompt, asset type and provider preferences"),
  KbRequest: open("The KB operation's arguments (path, query, content, ...)"),
  CalculatorRequest: object({ a: { type: "number" }, b: { type: "number" } }),
};

const RESPONSE_SCHEMAS: Record<string, Json> = {
  Error: object({ detail: string(), code: string() }, ["detail"], { additionalProperties: true }),
  Health: object(
    {
      status: { enum: ["healthy", "degraded"] },
      services: {
        type: "object",
        additionalProperties: object({ status: string(), ms: { type: "number" } }),
      },
    },
    ["status", "services"],
  ),
  TokenResponse: object(
    {
      access_token: string(),
      token_type: { const: "bearer" },
      expires_in: { type: "integer" },
      refresh_token: string(),
      user: object({ id: string(), email: string(), role: { enum: [...ROLES] } }),
    },
    ["access_token", "token_type", "expires_in", "refresh_token", "user"],
  ),
  ApiKeyCreated: object(
    {
      id: string(),
      key: string({ description: "Shown once" }),
      prefix: string(),
      name: string(),
      permissions: { type: "array", items: string() },
    },
    ["id", "key", "prefix", "name", "permissions"],
  ),
  ChatResponse: object({ response: string(), conversation_id: string() }, [], { additionalProperties: true }),
};

/** Which answer schema a path has, where the contract fixes one. */
const RESPONSES_BY_PATH: Record<string, string> = {
  "/health": "Health",
  "/api/v1/auth/login": "TokenResponse",
  "/api/v1/auth/refresh": "TokenResponse",
  "POST /api/v1/auth/keys": "ApiKeyCreated",
  "/api/v1/chat": "ChatResponse",
  "/api/v0.2/chat": "ChatResponse",
  "/api/v0.3/chat": "ChatResponse",
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const header = (description: string) => ({ description, schema: { type: "integer" } });
const error = (description: string, headers?: Json) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { "application/json": { schema: ref("Error") } },
});

/** The error answers, described once and referred to by every operation. */
const ERROR_RESPONSES: Record<string, Json> = {
  Unauthorized: error("No valid credential"),
  Forbidden: error("Not permitted"),
  NotFound: error("Not found"),
  TooLarge: error("Request body too large"),
  RateLimited: error("Rate limited", {
    "RateLimit-Limit": header("Requests allowed in the window"),
    "RateLimit-Remaining": header("Requests left in the window"),
    "RateLimit-Reset": header("Seconds until the window starts over"),
    "Retry-After": header("Seconds to wait"),
  }),
  Unavailable: error("The backend service is unavailable"),
  Timeout: error("The backend service did not answer in time"),
};
const errorRef = (name: keyof typeof ERROR_RESPONSES) => ({ $ref: `#/components/responses/${name}` });

const WITH_BODY = new Set<Method>(["POST", "PUT", "PATCH", "DELETE"]);

export const documentedPath = (path: string) => path.replace(/\{(\w+)\+\}/g, "{$1}");

export function operationId(method: Method, path: string): string {
  const words = path
    .replace(/\{(\w+)\+?\}/g, "by_$1")
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return [method.toLowerCase(), ...(words.length ? words : ["root"])].join("_");
}

function operation(route: Route, method: Method): Json {
  const security =
    route.auth === "none" ? [] : [{ apiKey: [] }, { bearer: [] }, ...(route.auth === "optional" ? [{}] : [])];
  const params = [...route.path.matchAll(/\{(\w+)(\+?)\}/g)].map(([, name, greedy]) => ({
    name,
    in: "path",
    required: true,
    schema: { type: "string" },
    ...(greedy ? { description: "One or more path segments" } : {}),
  }));
  const answer = RESPONSES_BY_PATH[`${method} ${route.path}`] ?? RESPONSES_BY_PATH[route.path];
  const ok: Json = {
    description: "Success",
    content: {
      "application/json": { schema: answer ? ref(answer) : {} },
      ...(route.streams ? { "text/event-stream": { schema: string() } } : {}),
    },
  };
  const backend = typeof route.to === "string";
  const responses: Json = { "200": ok };
  if (route.auth !== "none") responses["401"] = errorRef("Unauthorized");
  if (backend) responses["403"] = errorRef("Forbidden");
  if (params.length) responses["404"] = errorRef("NotFound");
  if (WITH_BODY.has(method) && route.bodyLimit > 0) responses["413"] = errorRef("TooLarge");
  if (route.rateLimited) responses["429"] = errorRef("RateLimited");
  if (backend) {
    responses["503"] = errorRef("Unavailable");
    responses["504"] = errorRef("Timeout");
  }
  return {
    tags: [route.tag],
    summary: route.summary,
    operationId: operationId(method, route.path),
    security,
    ...(params.length ? { parameters: params } : {}),
    ...(route.body && WITH_BODY.has(method)
      ? { requestBody: { required: true, content: { "application/json": { schema: ref(route.body) } } } }
      : {}),
    responses,
  };
}

export function openApiDocument(routes: readonly Route[], version: string): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const documented = documentedPath(route.path);
    paths[documented] ??= {};
    const item = paths[documented];
    // Two rows may share a path (GET / for API clients and for browsers): the first describes it.
    for (const method of route.methods) item[method.toLowerCase()] ??= operation(route, method);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Gaia API",
      version,
      description:
        "The Gaia platform's public API: chat with LLMs, asset generation and a Git-backed knowledge base. " +
        'Errors are JSON {"detail": "..."}; every answer carries X-Request-Id.',
    },
    servers: [{ url: "/" }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "A JWT, or an API key (gaia_...) as OpenAI SDKs send it",
        },
      },
      schemas: { ...REQUEST_SCHEMAS, ...RESPONSE_SCHEMAS },
      responses: ERROR_RESPONSES,
    },
  };
}
