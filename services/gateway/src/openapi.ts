import { ROLES } from "@gaia/kit";
import { generateBody, pricingUpdateBody } from "@gaia/kit/contracts/asset";
import {
  createKeyBody,
  loginBody,
  logoutBody,
  refreshBody,
  registerBody,
  updateKeyBody,
  updateUserBody,
} from "@gaia/kit/contracts/auth";
import {
  chatBody,
  completionRequest,
  createConversationBody,
  createPersonaBody,
  selectPersonaBody,
} from "@gaia/kit/contracts/chat";
import {
  contextBody,
  deleteBody,
  grantBody,
  listBody,
  moveBody,
  navigateBody,
  readBody,
  resolveBody,
  searchBody,
  writeBody,
} from "@gaia/kit/contracts/kb";
import { z } from "zod";
import type { Method, Route, SchemaName } from "./route-table.ts";
import { calculatorInput } from "./routes/local.ts";

/**
 * The OpenAPI 3.1 document of the public API, made from the route table (paths, methods, security, limits,
 * statuses) and the request validators the services themselves parse with. Built once at start-up.
 */

type Json = Record<string, unknown>;

const object = (properties: Json, required: string[] = [], extra: Json = {}): Json => ({
  type: "object",
  properties,
  ...(required.length ? { required } : {}),
  ...extra,
});
const string = (extra: Json = {}): Json => ({ type: "string", ...extra });

/** The validator behind each request body: the one its service parses it with. */
const VALIDATORS: Record<SchemaName, z.ZodType> = {
  ChatRequest: chatBody,
  ChatCompletionRequest: completionRequest,
  ConversationRequest: createConversationBody,
  PersonaRequest: createPersonaBody,
  PersonaSelection: selectPersonaBody,
  RegisterRequest: registerBody,
  LoginRequest: loginBody,
  RefreshRequest: refreshBody,
  LogoutRequest: logoutBody,
  ApiKeyRequest: createKeyBody,
  ApiKeyUpdate: updateKeyBody,
  UserUpdate: updateUserBody,
  AssetRequest: generateBody,
  AssetPriceUpdate: pricingUpdateBody,
  KbSearch: searchBody,
  KbRead: readBody,
  KbList: listBody,
  KbNavigate: navigateBody,
  KbContext: contextBody,
  KbWrite: writeBody,
  KbMove: moveBody,
  KbDelete: deleteBody,
  KbPermission: grantBody,
  KbResolve: resolveBody,
  CalculatorRequest: calculatorInput,
};

/** What a client may send, as the validator reads it (defaults and optional fields included). */
function requestSchema(name: SchemaName): Json {
  const validator = VALIDATORS[name];
  const { $schema: _, ...schema } = z.toJSONSchema(validator, { io: "input", unrepresentable: "any" });
  return storableOnly(schema);
}

/** No NUL in a string: what every service refuses (kit text.ts), which JSON Schema says only as a pattern. */
const NO_NUL = "^[^\\u0000]*$";

/**
 * The schema with that rule on every free-form string, so the document promises what is accepted. Strings with a
 * format or an enum exclude NUL already; one with a pattern of its own gets this one beside it. Keys are left alone: a key a schema does not know
 * is dropped whatever it holds (kit parseInput checks what the schema keeps).
 */
export function storableOnly(schema: unknown): Json {
  const visit = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(visit);
    if (!node || typeof node !== "object") return node;
    const out: Json = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, visit(v)]));
    if (out.type === "string" && !("format" in out) && !("enum" in out) && !("const" in out)) {
      // A pattern of the validator's own stays; both must hold.
      if ("pattern" in out) out.allOf = [...((out.allOf as Json[] | undefined) ?? []), { pattern: NO_NUL }];
      else out.pattern = NO_NUL;
    }
    return out;
  };
  return visit(schema) as Json;
}

/** A body may be left out where the validator takes {} (the kit reads a request without a body as {}). */
const bodyOptional = (name: SchemaName) => VALIDATORS[name].safeParse({}).success;

/** One event of any chat stream: OpenAI chunks (v1, v0.2, completions), clean events (v0.3, scenarios). */
const STREAM_PAYLOAD: Json = {
  anyOf: [
    object(
      {
        object: { const: "chat.completion.chunk" },
        id: string(),
        model: string(),
        choices: { type: "array", items: object({ index: { type: "integer" }, delta: { type: "object" } }) },
      },
      ["object", "id", "choices"],
    ),
    object(
      {
        type: { enum: ["metadata", "content", "agent_start", "agent_end", "done", "error", "world_update"] },
        content: string(),
        detail: string(),
        conversation_id: string(),
      },
      ["type"],
    ),
    object({ error: object({ message: string() }, ["message"]), detail: string() }, ["error", "detail"]),
  ],
};
const STREAM_EVENT: Json = {
  description:
    "A Server-Sent Event. `data` is JSON, or `[DONE]` last in the OpenAI formats; a world update is the " +
    "event `world_update` (v1, v0.2, any JSON) or an event of type world_update (v0.3).",
  anyOf: [
    object(
      {
        event: { const: "message" },
        data: {
          anyOf: [
            { const: "[DONE]" },
            string({ contentMediaType: "application/json", contentSchema: STREAM_PAYLOAD }),
          ],
        },
      },
      ["data"],
    ),
    object({ event: { const: "world_update" }, data: string({ contentMediaType: "application/json" }) }, [
      "event",
      "data",
    ]),
  ],
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
  StreamEvent: STREAM_EVENT,
};

/** Which answer schema a path has, where the contract fixes one. */
const RESPONSES_BY_PATH: Record<string, string> = {
  "/health": "Health",
  "/api/v1/auth/register": "TokenResponse",
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

/** The error answers, described once and referred to by every operation, by status. */
const ERROR_RESPONSES: Record<string, Json> = {
  BadRequest: error("Malformed request: not JSON, or a value the service refuses"),
  Unauthorized: error("No valid credential"),
  Forbidden: error("Not permitted"),
  NotFound: error("Not found"),
  MethodNotAllowed: error("This path does not take this method", {
    Allow: { description: "The methods it takes", schema: { type: "string" } },
  }),
  PaymentRequired: error("The caller's budget does not cover it; `detail` says what is left"),
  Conflict: error("In conflict with the current state"),
  Gone: error("It existed, and its stored file does not any more"),
  RangeNotSatisfiable: error("The Range lies outside the file", {
    "Content-Range": { description: "bytes */<size>", schema: { type: "string" } },
  }),
  TooLarge: error("Request body too large"),
  UnsupportedMediaType: error("The request body is not application/json in UTF-8", {
    Accept: { description: "The media type accepted", schema: { const: "application/json" } },
  }),
  Unprocessable: error("A field is invalid; `errors` names each"),
  RateLimited: error("Rate limited", {
    "RateLimit-Limit": header("Requests allowed in the window"),
    "RateLimit-Remaining": header("Requests left in the window"),
    "RateLimit-Reset": header("Seconds until the window starts over"),
    "Retry-After": header("Seconds to wait"),
  }),
  BadGateway: error("A backend service or the model provider failed"),
  Unavailable: error("A backend service is unavailable"),
  Timeout: error("A backend service or the model provider did not answer in time"),
  NotImplemented: error("A path of the first platform that this release does not offer; `detail` says why"),
};
/** The answers that are not errors: with the operation's JSON (or stream), or with no body. */
const SUCCESS_BY_STATUS: Record<number, { description: string; content: boolean }> = {
  200: { description: "Success", content: true },
  201: { description: "Created", content: true },
  202: { description: "Accepted: the work goes on, and the answer says where to follow it", content: true },
  204: { description: "Done; no content", content: false },
  206: { description: "The part of the file the Range asked for", content: false },
  304: { description: "Not modified since the ETag given in If-None-Match", content: false },
};

const ERROR_BY_STATUS: Record<number, keyof typeof ERROR_RESPONSES> = {
  400: "BadRequest",
  401: "Unauthorized",
  402: "PaymentRequired",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Gone",
  413: "TooLarge",
  415: "UnsupportedMediaType",
  416: "RangeNotSatisfiable",
  422: "Unprocessable",
  429: "RateLimited",
  502: "BadGateway",
  503: "Unavailable",
  501: "NotImplemented",
  504: "Timeout",
};

const WITH_BODY = new Set<Method>(["POST", "PUT", "PATCH", "DELETE"]);

export const documentedPath = (path: string) => path.replace(/\{(\w+)\+\}/g, "{$1}");

export function operationId(method: Method, path: string): string {
  const words = path
    .replace(/\{(\w+)\+?\}/g, "by_$1")
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return [method.toLowerCase(), ...(words.length ? words : ["root"])].join("_");
}

/** Every status an operation answers, from the row's terms and its own additions. */
export function statusesOf(route: Route, method: Method): number[] {
  const prefix = route.path.includes("+}");
  const codes = new Set<number>(route.statuses);
  if (route.empty) codes.add(204);
  else if (route.created && method === "POST") codes.add(201);
  else codes.add(200);
  // A prefix forwards to endpoints of its backend's own, which may create, validate or not exist; a path
  // below it that a row of its own names takes only that row's methods.
  if (prefix) {
    if (method === "POST") codes.add(201);
    for (const status of [404, 405, 422]) codes.add(status);
  }
  if (WITH_BODY.has(method) && route.bodyLimit > 0) for (const status of [400, 413, 415]) codes.add(status);
  if (route.body && WITH_BODY.has(method)) codes.add(422);
  if (route.path.includes("{")) codes.add(404);
  // The credential is checked with auth, which may fail or be unreachable.
  if (route.auth !== "none") for (const status of [401, 502, 503]) codes.add(status);
  if (typeof route.to === "string") for (const status of [403, 502, 503, 504]) codes.add(status);
  if (route.rateLimited) codes.add(429);
  return [...codes].sort((a, b) => a - b);
}

function operation(route: Route, method: Method): Json {
  const optional = route.auth === "optional" || route.whenCredentials;
  const security = route.auth === "none" ? [] : [{ apiKey: [] }, { bearer: [] }, ...(optional ? [{}] : [])];
  const params = [...route.path.matchAll(/\{(\w+)(\+?)\}/g)].map(([, name, greedy]) => ({
    name,
    in: "path",
    required: true,
    schema: { type: "string" },
    ...(greedy ? { description: "One or more path segments" } : {}),
  }));
  const answer = RESPONSES_BY_PATH[`${method} ${route.path}`] ?? RESPONSES_BY_PATH[route.path];
  const success = (description: string): Json => ({
    description,
    content: {
      "application/json": { schema: answer ? ref(answer) : {} },
      ...(route.streams ? { "text/event-stream": { schema: ref("StreamEvent") } } : {}),
    },
  });
  const responses: Json = {};
  for (const status of statusesOf(route, method)) {
    const own = SUCCESS_BY_STATUS[status];
    responses[status] =
      own === undefined
        ? { $ref: `#/components/responses/${ERROR_BY_STATUS[status]}` }
        : own.content
          ? success(own.description)
          : { description: own.description };
  }
  const body = route.body && WITH_BODY.has(method) ? route.body : undefined;
  return {
    tags: [route.tag],
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    operationId: operationId(method, route.path),
    security,
    ...(params.length ? { parameters: params } : {}),
    ...(body
      ? {
          requestBody: {
            required: !bodyOptional(body),
            content: { "application/json": { schema: ref(body) } },
          },
        }
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
  const bodies = [...new Set(routes.flatMap((r) => (r.body ? [r.body] : [])))];
  return {
    openapi: "3.1.0",
    info: {
      title: "Gaia API",
      version,
      description:
        "The Gaia platform's public API: chat with LLMs, asset generation and a Git-backed knowledge base. " +
        'Errors are JSON {"detail": "..."}; every answer carries X-Request-Id. A method a path does not take ' +
        "answers 405 with the methods it takes in Allow.",
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
      schemas: {
        ...Object.fromEntries(bodies.map((name) => [name, requestSchema(name)])),
        ...RESPONSE_SCHEMAS,
      },
      responses: ERROR_RESPONSES,
    },
  };
}
