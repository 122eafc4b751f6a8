import { badRequest, HttpError, tooManyRequests, unauthorized } from "@gaia/kit";
import { isSpanContextValid, trace } from "@opentelemetry/api";
import type { Request, RequestHandler, Response } from "express";
import type { Authenticated, Authenticator } from "../authn.ts";
import { type CorsPolicy, corsHeaders } from "../cors.ts";
import { type Credential, credentialOf } from "../credentials.ts";
import { upstreamHeaders } from "../headers.ts";
import type { Upstreams } from "../providers/upstream.ts";
import { type RateLimiter, rateLimitHeaders, rateSubject } from "../ratelimit.ts";
import type { LocalHandler, Route, TimeoutClass } from "../route-table.ts";
import { hasDotSegment, type Match, type Router } from "../router.ts";

/**
 * The one handler behind every public path: match the route table, answer CORS, authenticate, count the
 * caller, then forward to the backend (or answer locally). Unknown paths fall through to the kit's JSON 404.
 */

export type LocalHandlerFn = (
  req: Request,
  res: Response,
  context: { route: Route; caller: Authenticated | undefined },
) => Promise<void> | void;

export interface DispatchDeps {
  router: Router;
  cors: CorsPolicy;
  authenticator: Authenticator;
  limiter: RateLimiter;
  upstreams: Upstreams;
  /** The secret shared with auth, which lets auth believe the client address the gateway names. */
  internalToken: () => Promise<string | undefined>;
  timeouts: Record<TimeoutClass, number>;
  local: Record<LocalHandler, LocalHandlerFn>;
}

type RouteMatch = Extract<Match, { kind: "route" }>;

/** The trace context to hand on: the gateway's own span when tracing runs, else the client's or a new one. */
function activeTraceparent(): string | undefined {
  const span = trace.getActiveSpan();
  if (!span) return undefined;
  const context = span.spanContext();
  if (!isSpanContextValid(context)) return undefined;
  return `00-${context.traceId}-${context.spanId}-${context.traceFlags.toString(16).padStart(2, "0")}`;
}

/** The peer's address, or the client's as a trusted proxy (GAIA_TRUSTED_PROXIES) names it; never the client's say-so. */
const clientAddress = (req: Request) => req.ip ?? req.socket.remoteAddress ?? "unknown";

/**
 * The scheme the client used: an ingress in front says so in X-Forwarded-Proto, which is passed on; else the
 * gateway's own socket tells. (Express's req.protocol would re-check the proxy trust list on every request.)
 */
function forwardedProto(req: Request): string {
  const given = req.headers["x-forwarded-proto"];
  if (typeof given === "string" && given) return given;
  return (req.socket as { encrypted?: boolean }).encrypted ? "https" : "http";
}

export function dispatcher(deps: DispatchDeps): RequestHandler {
  return (req, res, next) => {
    const url = req.url;
    const query = url.indexOf("?");
    const path = query === -1 ? url : url.slice(0, query);

    const origin = req.headers.origin;
    if (origin !== undefined) {
      const preflight =
        req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
      const headers = corsHeaders(
        deps.cors,
        origin,
        preflight ? { requestHeaders: req.headers["access-control-request-headers"] } : undefined,
      );
      if (preflight) {
        if (!headers) return next(new HttpError(403, "Origin not allowed"));
        res.set(headers).status(204).end();
        return;
      }
      if (headers) res.set(headers);
    }

    if (hasDotSegment(path)) return next(badRequest("Invalid path"));
    const credential = credentialOf(req.headers);
    const match = deps.router.match(req.method, path, credential !== undefined);
    if (match.kind === "none") return next();
    if (match.kind === "method-not-allowed") {
      res.setHeader("Allow", match.allow.join(", "));
      return next(new HttpError(405, `Method ${req.method} is not allowed here`));
    }
    // The kit labels request metrics by req.route.path; one handler serves every row, so name the row.
    req.route = { path: match.route.path };

    const length = req.headers["content-length"];
    if (length !== undefined && Number(length) > match.route.bodyLimit) {
      // The body is left unread, so this connection cannot carry another request.
      res.setHeader("Connection", "close");
      return next(new HttpError(413, "Request body too large"));
    }
    serve(deps, req, res, match, credential).catch(next);
  };
}

async function identify(
  deps: DispatchDeps,
  req: Request,
  res: Response,
  route: Route,
  credential: Credential | undefined,
): Promise<Authenticated | undefined> {
  if (route.auth === "none") return undefined;
  if (!credential) {
    if (route.auth === "required") throw unauthorized();
    return undefined;
  }
  const cached = deps.authenticator.cached(credential);
  if (cached) return cached;
  try {
    return await deps.authenticator.authenticate(credential, res.locals.requestId as string);
  } catch (error) {
    if (error instanceof HttpError && error.status === 401) await refuseFailure(deps, req, res);
    throw error;
  }
}

/**
 * Failed authentications are counted per address; past the anonymous limit a failure is answered 429 instead
 * of 401. The credential is still checked first, always: refusing before the check would lock out everyone
 * behind the address (a NAT, an office) because one of them, or anyone sharing it, sent bad credentials.
 * Checking every bogus credential is affordable: auth answers a malformed one without a lookup, an API key with
 * one read by its unique hash, a token with a signature check, all cheaper than the password hash that any
 * anonymous client may already ask for at login. A key's 256 random bits, not this count, keep it unguessable.
 */
async function refuseFailure(deps: DispatchDeps, req: Request, res: Response): Promise<void> {
  const decision = await deps.limiter.check({ key: `authfail:${clientAddress(req)}`, tier: "anonymous" });
  if (decision.allowed) return;
  const headers = rateLimitHeaders(decision);
  for (const name in headers) res.setHeader(name, headers[name]!);
  throw tooManyRequests("Too many failed authentications; try again later", decision.resetSeconds);
}

async function serve(
  deps: DispatchDeps,
  req: Request,
  res: Response,
  match: RouteMatch,
  credential: Credential | undefined,
) {
  const { route } = match;
  const caller = await identify(deps, req, res, route, credential);

  if (route.rateLimited) {
    const decision = await deps.limiter.check(rateSubject(caller?.identity, () => clientAddress(req)));
    const headers = rateLimitHeaders(decision);
    for (const name in headers) res.setHeader(name, headers[name]!);
    if (!decision.allowed)
      throw tooManyRequests("Rate limit exceeded; try again later", decision.resetSeconds);
  }

  if (typeof route.to !== "string") return deps.local[route.to.local](req, res, { route, caller });

  const target = route.to;
  // The web UI sets its own page policy; the gateway's API-oriented CSP would break its pages.
  if (target === "web") res.removeHeader("Content-Security-Policy");
  const query = req.url.indexOf("?");
  await deps.upstreams.forward(target, req, res, {
    method: req.method,
    path: query === -1 ? match.upstreamPath : match.upstreamPath + req.url.slice(query),
    headers: upstreamHeaders(req.headers, {
      target,
      identityToken: caller?.token,
      requestId: res.locals.requestId as string,
      traceparent: activeTraceparent(),
      clientAddress: req.socket.remoteAddress ?? "",
      proto: forwardedProto(req),
      // Auth limits logins per client address: it gets the address with the proof that the gateway sent it.
      vouch:
        target === "auth"
          ? { internalToken: await deps.internalToken(), clientAddress: clientAddress(req) }
          : undefined,
    }),
    timeoutMs: deps.timeouts[route.timeout],
    bodyLimit: route.bodyLimit,
  });
}
