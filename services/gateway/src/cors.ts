/**
 * CORS for browsers calling the API from other origins: only the configured origins (GAIA_CORS_ORIGINS),
 * none by default. `*` admits any origin without credentials (development), as the Fetch standard requires.
 */

export interface CorsPolicy {
  any: boolean;
  origins: ReadonlySet<string>;
}

export function corsPolicy(origins: readonly string[]): CorsPolicy {
  const cleaned = origins.map((o) => o.trim().replace(/\/+$/, "")).filter(Boolean);
  return { any: cleaned.includes("*"), origins: new Set(cleaned.filter((o) => o !== "*")) };
}

export const ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
/** What a page may read from an answer besides the CORS-safelisted headers. */
export const EXPOSED_HEADERS = [
  "X-Request-Id",
  "RateLimit-Limit",
  "RateLimit-Remaining",
  "RateLimit-Reset",
  "Retry-After",
].join(", ");
const DEFAULT_ALLOWED_HEADERS =
  "Authorization, Content-Type, X-API-Key, X-Request-Id, traceparent, tracestate";
const PREFLIGHT_MAX_AGE_SECONDS = "600";

export function originAllowed(policy: CorsPolicy, origin: string): boolean {
  return policy.any || policy.origins.has(origin);
}

/** Headers for an answer to `origin`, or undefined when that origin is not admitted. */
export function corsHeaders(
  policy: CorsPolicy,
  origin: string,
  preflight?: { requestHeaders?: string },
): Record<string, string> | undefined {
  if (!originAllowed(policy, origin)) return undefined;
  const listed = policy.origins.has(origin);
  const headers: Record<string, string> = listed
    ? { "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", Vary: "Origin" }
    : { "Access-Control-Allow-Origin": "*" };
  if (!preflight) {
    headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS;
    return headers;
  }
  headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS;
  headers["Access-Control-Allow-Headers"] = preflight.requestHeaders?.trim() || DEFAULT_ALLOWED_HEADERS;
  headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE_SECONDS;
  if (listed) headers.Vary = "Origin, Access-Control-Request-Headers";
  return headers;
}
