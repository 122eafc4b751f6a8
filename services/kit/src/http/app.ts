import { randomUUID } from "node:crypto";
import express, {
  type ErrorRequestHandler,
  type Express,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from "express";
import helmet from "helmet";
import client from "prom-client";
import type { Database } from "../db/client.ts";
import { HttpError, notFound } from "../errors.ts";
import { BODY_LIMITS, SERVICE_BODY_LIMITS } from "../limits.ts";
import type { Logger } from "../log.ts";
import { isServiceName } from "../registry.ts";
import { storableInput } from "../validate.ts";
import { requireJsonBody } from "./body-type.ts";

export type HealthCheck = () => Promise<Record<string, unknown>> | Record<string, unknown>;

export interface AppOptions {
  name: string;
  log: Logger;
  /** Extra fields for GET /health; a throw marks the service unhealthy. */
  health?: HealthCheck;
  /** The service's database: /health calls the service degraded and /ready answers 503 while it does not answer. */
  database?: Pick<Database, "prisma">;
  /**
   * Why the service cannot answer yet (its KB clone still being made, ...), or undefined when it can: /ready
   * answers 503 with the reason until then, so Kubernetes routes to the service only when it can serve.
   */
  notReady?: () => string | undefined;
  /** Largest JSON body accepted, in bytes: the service's SERVICE_BODY_LIMITS entry unless a test says otherwise. */
  bodyLimit?: number | string;
  /** Mount the service's routes; they run after the common middleware and before the 404 and error handlers. */
  routes: (app: Express) => void;
  /** Parse JSON bodies (default true); the gateway streams bodies through untouched. */
  parseJson?: boolean;
  /**
   * Proxies (addresses or CIDRs) whose X-Forwarded-For is believed for req.ip; none by default, so a client
   * cannot choose its own address. Only the gateway faces clients; backends learn the address from it.
   */
  trustProxy?: readonly string[];
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** X-Request-Id: the caller's when it is sane, else a new one; echoed on every response. */
export const requestId: RequestHandler = (req, res, next) => {
  const given = req.get("x-request-id");
  const id = given && REQUEST_ID.test(given) ? given : randomUUID();
  res.locals.requestId = id;
  res.setHeader("X-Request-Id", id);
  next();
};

/**
 * helmet's headers are the same for every response; compute them once instead of on each request (a measurable
 * share of a proxied request's cost). Only for middleware that sets and removes headers, nothing else.
 */
export function staticHeaders(middleware: RequestHandler): RequestHandler {
  const set: [string, string | number | readonly string[]][] = [];
  const removed: string[] = [];
  const recorder = {
    setHeader: (headerName: string, value: string | number | readonly string[]) =>
      set.push([headerName, value]),
    removeHeader: (headerName: string) => removed.push(headerName),
  };
  middleware({} as Request, recorder as unknown as Response, () => {});
  return (_req, res, next) => {
    for (const [headerName, value] of set) res.setHeader(headerName, value);
    for (const headerName of removed) res.removeHeader(headerName);
    next();
  };
}

export function createMetrics(service: string) {
  const registry = new client.Registry();
  registry.setDefaultLabels({ service });
  const requests = new client.Counter({
    name: "gaia_http_requests_total",
    help: "HTTP requests by method, route and status",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  });
  const duration = new client.Histogram({
    name: "gaia_http_request_duration_seconds",
    help: "HTTP request duration by method, route and status",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  return { registry, requests, duration };
}
export type Metrics = ReturnType<typeof createMetrics>;

/** Count and time each request by its route pattern (not its path, which would explode the label set). */
function observe(metrics: Metrics, log: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on("finish", () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = req.route?.path
        ? `${req.baseUrl}${req.route.path}`
        : res.statusCode === 404
          ? "unmatched"
          : req.baseUrl || "other";
      const labels = { method: req.method, route: String(route), status: String(res.statusCode) };
      metrics.requests.inc(labels);
      metrics.duration.observe(labels, seconds);
      if (req.path !== "/health" && req.path !== "/ready" && req.path !== "/metrics") {
        log.info(
          {
            requestId: res.locals.requestId,
            method: req.method,
            path: req.path,
            status: res.statusCode,
            ms: +(seconds * 1000).toFixed(2),
          },
          "request",
        );
      }
    });
    next();
  };
}

/** Every error leaves as {"detail": ...}; anything not an HttpError is logged and reported as a bare 500. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const http = toHttpError(error);
    if (http.status >= 500 && !(error instanceof HttpError)) {
      log.error({ err: error, requestId: res.locals.requestId, path: req.path }, "unhandled error");
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    for (const [name, value] of Object.entries(http.headers)) res.setHeader(name, value);
    res.status(http.status).json(http.toJSON());
  };
}

/** Errors thrown by body parsing and friends carry a status; map them onto the contract's messages. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  const e = error as { status?: number; statusCode?: number; type?: string };
  const status = e?.status ?? e?.statusCode;
  if (e?.type === "entity.too.large") return new HttpError(413, "Request body too large");
  if (e?.type === "entity.parse.failed") return new HttpError(400, "Request body is not valid JSON");
  if (e?.type === "encoding.unsupported" || e?.type === "charset.unsupported") {
    return new HttpError(415, "Unsupported request encoding");
  }
  if (typeof status === "number" && status >= 400 && status < 500)
    return new HttpError(status, "Bad request");
  return new HttpError(500, "Internal server error");
}

/** Within the gateway's deadline for a backend's /health, so a hung database is reported rather than timed out. */
const DATABASE_PROBE_MS = 1_000;

/** SELECT 1 within the deadline: whether the database answers at all, the cheapest question it can be asked. */
async function databaseAnswers(database: Pick<Database, "prisma">): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), DATABASE_PROBE_MS);
  });
  const probe = database.prisma.$queryRaw`SELECT 1`.then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([probe, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

const bodyLimitOf = (name: string) => (isServiceName(name) ? SERVICE_BODY_LIMITS[name] : BODY_LIMITS.default);

export interface GaiaApp {
  app: Express;
  metrics: Metrics;
}

export function createApp(options: AppOptions): GaiaApp {
  const { name, log } = options;
  const metrics = createMetrics(name);
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", options.trustProxy?.length ? [...options.trustProxy] : false);
  app.set("query parser", "simple");
  app.use(requestId);
  app.use(staticHeaders(helmet({ contentSecurityPolicy: name === "web" ? false : undefined })));
  app.use(observe(metrics, log));
  if (options.parseJson !== false) app.use(requireJsonBody);
  if (options.parseJson !== false) app.use(express.json({ limit: options.bodyLimit ?? bodyLimitOf(name) }));
  // The gateway forwards bytes untouched; the backend that parses them refuses what its database cannot store.
  if (options.parseJson !== false) app.use(storableInput);

  const { database } = options;
  app.get("/health", async (_req, res) => {
    try {
      const [extra, up] = await Promise.all([
        options.health?.() ?? {},
        database && databaseAnswers(database),
      ]);
      // Degraded, not failing: restarting the service would not bring its database back.
      const db = up === undefined ? {} : { database: up ? "ok" : "unavailable" };
      res.json({ status: up === false ? "degraded" : "healthy", service: name, ...db, ...extra });
    } catch (error) {
      res
        .status(503)
        .json({ status: "unhealthy", service: name, detail: String((error as Error).message ?? error) });
    }
  });
  app.get("/ready", async (_req, res) => {
    const reason = options.notReady?.();
    if (reason) {
      res.status(503).json({ detail: `${name} is not ready: ${reason}` });
      return;
    }
    if (database && !(await databaseAnswers(database))) {
      res.status(503).json({ detail: `${name} is not ready: its database is unavailable` });
      return;
    }
    res.json({ status: "ready" });
  });
  // Served on the metrics port by runApp (http/metrics.ts), never on this public one.
  app.locals.metricsRegistry = metrics.registry;

  options.routes(app);

  app.use((req, _res, next) => next(notFound(`No route for ${req.method} ${req.path}`)));
  app.use(errorHandler(log));
  return { app, metrics };
}

export type { Router };
